"""The demo's subscriber view: late labels joined with predictions in either order, and rolling quality."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from rtml.demo.scoreboard import Outcome, Quality, Scoreboard, quality, roc_auc
from schemas.label import Label
from schemas.model_update import ModelUpdate
from schemas.prediction import Prediction


def prediction(i: int, score: float, *, version: str = "1", ts: int = 1_000, scored_at: int = 1_020) -> Prediction:
    return Prediction(
        event_id=f"e{i}",
        model="fraud",
        version=version,
        score=score,
        label=int(score >= 0.5),  # type: ignore[arg-type]
        features={},
        ts=ts,
        scored_at=scored_at,
    )


def label(i: int, y: int, ts: int = 5_000) -> Label:
    return Label(event_id=f"e{i}", label=y, ts=ts)  # type: ignore[arg-type]


def test_a_label_joins_its_prediction_whichever_comes_first() -> None:
    board = Scoreboard()
    board.prediction(prediction(1, 0.9), 0)
    board.label(label(1, 1), 0)
    board.label(label(2, 0), 0)  # before its prediction
    board.prediction(prediction(2, 0.2), 0)
    board.label(label(3, 1), 0)  # never predicted: no outcome
    assert board.outcomes == [Outcome(1_000, "1", 0.9, 1, 1), Outcome(1_000, "1", 0.2, 0, 0)]
    assert set(board.early_labels) == {"e3"}


def test_shadow_predictions_are_counted_apart() -> None:
    board = Scoreboard()
    shadow = Prediction(
        event_id="e1", model="fraud", version="2", score=0.1, label=0, features={}, ts=1, scored_at=2, shadow=True
    )
    board.prediction(shadow, 0)
    assert (board.predictions, board.shadow, board.first_scored) == (0, 1, {})


def test_unlabelled_predictions_expire_after_the_ttl() -> None:
    board = Scoreboard(label_ttl_ms=1_000)
    board.prediction(prediction(1, 0.1, ts=0), 0)
    board.prediction(prediction(2, 0.1, ts=5_000), 0)
    board.expire(5_500)
    assert set(board.unjoined) == {"e2"}


def test_quality_matches_sklearn_and_counts_precision_and_recall() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = np.round(np.clip(y * 0.3 + rng.uniform(0, 0.7, 500), 0, 1), 2)  # rounded: ties on purpose
    outcomes = [
        Outcome(i, "1", float(si), int(si >= 0.5), int(yi)) for i, (si, yi) in enumerate(zip(s, y, strict=True))
    ]
    q = quality(outcomes)
    p = (s >= 0.5).astype(int)
    assert q.roc_auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert q.accuracy == pytest.approx(np.mean(p == y))
    assert q.precision == pytest.approx(((p == 1) & (y == 1)).sum() / p.sum())
    assert q.recall == pytest.approx(((p == 1) & (y == 1)).sum() / y.sum())
    assert q.positives == int(y.sum())
    assert math.isnan(roc_auc(np.ones(3, dtype=np.int8), np.array([0.1, 0.2, 0.3])))
    assert quality([]).n == 0


def test_the_roc_auc_standard_error_matches_the_spread_over_repeated_samples() -> None:
    rng = np.random.default_rng(3)
    pos, neg = 40, 2000  # a demo phase: a few dozen frauds among thousands of outcomes
    y = np.r_[np.ones(pos, dtype=np.int8), np.zeros(neg, dtype=np.int8)]
    aucs = [roc_auc(y, np.r_[rng.exponential(3.0, pos), rng.exponential(1.0, neg)]) for _ in range(400)]
    q = Quality(n=pos + neg, accuracy=0.98, roc_auc=0.75, precision=math.nan, recall=math.nan, positives=pos)
    assert np.mean(aucs) == pytest.approx(0.75, abs=0.01)  # exponential scores with means 3 and 1: AUC 3/4
    assert q.roc_auc_se == pytest.approx(np.std(aucs), rel=0.15)  # ~0.037
    assert math.isnan(Quality(10, 1.0, math.nan, math.nan, math.nan, positives=0).roc_auc_se)


def test_live_rate_and_p99_cover_the_last_seconds_only() -> None:
    board = Scoreboard()
    for i in range(100):
        board.prediction(prediction(i, 0.1, ts=0, scored_at=i), now_ms=0)  # latencies 0..99 ms, arrived at 0
    for i in range(10):
        board.prediction(prediction(100 + i, 0.1, ts=0, scored_at=5), now_ms=6_000)
    rate, p99 = board.live(6_000)
    assert rate == pytest.approx(10 / 5)
    assert p99 == 5


def test_the_serving_version_follows_champion_promotions() -> None:
    board = Scoreboard()
    board.prediction(prediction(1, 0.1, version="3"), 0)
    assert board.serving_version() == "3"
    update = ModelUpdate(
        model="fraud",
        version="4",
        alias="champion",
        artifact_uri="file:///m.onnx",
        sha256="a" * 64,
        ts=1,
        previous_version="3",
    )
    board.update(update, 10)
    assert board.serving_version() == "4"

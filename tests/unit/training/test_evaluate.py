from __future__ import annotations

import math

import numpy as np
import pytest

import training.evaluate as ev
from training.evaluate import baseline, brier, choose_threshold, evaluate, f1_at, pr_auc, report, roc_auc

Y = np.array([0, 0, 1, 1])
S = np.array([0.1, 0.4, 0.35, 0.8])


def test_metrics_match_hand_computed_values() -> None:
    assert roc_auc(Y, S) == pytest.approx(0.75)  # 3 of 4 (positive, negative) pairs ordered right
    assert pr_auc(Y, S) == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)  # recall steps at precision 1 and 2/3
    assert brier(Y, S) == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert f1_at(Y, S, 0.5) == pytest.approx((2 / 3, 1.0, 0.5))
    assert f1_at(Y, S, 0.3) == pytest.approx((0.8, 2 / 3, 1.0))


def test_threshold_maximizes_f1() -> None:
    # candidates: 0.8 -> 2/3, 0.4 -> 1/2, 0.35 -> 0.8, 0.1 -> 2/3
    assert choose_threshold(Y, S) == pytest.approx(0.35)
    assert choose_threshold(np.zeros(4, dtype=int), S) == 0.5


def test_evaluation_bundles_everything() -> None:
    result = evaluate(Y, S, threshold=0.35)
    assert (result.rows, result.positives, result.prevalence) == (4, 2, 0.5)
    assert result.f1 == pytest.approx(0.8)
    assert result.as_dict()["roc_auc"] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="equal non-empty"):
        evaluate(Y, S[:3])


def test_constant_prevalence_baseline() -> None:
    y = np.array([0, 0, 0, 1, 0, 0, 0, 1])
    trivial = baseline(y, prevalence=0.25)
    assert trivial.roc_auc == 0.5
    assert trivial.pr_auc == pytest.approx(0.25)  # = test prevalence
    assert trivial.brier == pytest.approx(0.25 * 0.75)


def test_a_single_class_slice_reports_undefined_as_none() -> None:
    result = evaluate(np.zeros(3, dtype=int), np.array([0.2, 0.4, 0.9]))
    assert math.isnan(result.roc_auc) and math.isnan(result.pr_auc)
    assert result.as_dict()["roc_auc"] is None and result.as_dict()["pr_auc"] is None


def test_report_picks_the_threshold_on_validation_and_judges_on_test() -> None:
    y_test = np.array([0, 1, 0, 1, 0, 0])
    scores_test = np.array([0.2, 0.9, 0.3, 0.7, 0.1, 0.5])
    result = report(Y, S, y_test, scores_test, train_prevalence=0.3)
    assert result["threshold"] == pytest.approx(0.35)
    assert result["test"]["threshold"] == pytest.approx(0.35) and result["test"]["roc_auc"] == 1.0
    assert result["baseline"]["pr_auc"] == pytest.approx(2 / 6)
    assert result["beats_baseline"] == {"roc_auc": True, "pr_auc": True, "brier": True}


@pytest.mark.parametrize("seed", range(6))
def test_the_numpy_metrics_equal_sklearns(seed: int) -> None:
    from sklearn import metrics

    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 3000))
    y = (rng.random(n) < rng.uniform(0.01, 0.5)).astype(np.int64)
    y[:2] = [0, 1]
    scores = rng.random(n)
    if seed % 2:  # coarse scores: many ties, as a calibrated model on few distinct inputs gives
        scores = np.round(scores, 1)
    assert ev.roc_auc(y, scores) == pytest.approx(metrics.roc_auc_score(y, scores), abs=1e-12)
    assert ev.pr_auc(y, scores) == pytest.approx(metrics.average_precision_score(y, scores), abs=1e-12)
    assert ev.brier(y, scores) == pytest.approx(metrics.brier_score_loss(y, scores), abs=1e-12)
    for threshold in (0.05, 0.3, 0.5, 0.95):
        flagged = (scores >= threshold).astype(np.int64)
        p, r, f, _ = metrics.precision_recall_fscore_support(y, flagged, average="binary", zero_division=0.0)
        assert ev.f1_at(y, scores, threshold) == pytest.approx((f, p, r), abs=1e-12)
    precision, recall, thresholds = metrics.precision_recall_curve(y, scores)
    precision, recall = precision[:-1], recall[:-1]
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(precision), where=both > 0)
    assert ev.choose_threshold(y, scores) == thresholds[int(np.argmax(f1))]  # the lowest on ties, as before

"""Holdout scoring with ONNX Runtime on a training-set Parquet file (a tiny logistic model built here)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from serving.testing import write_linear_onnx
from training.holdout import (
    HoldoutError,
    OnnxScorer,
    evaluate_on_holdout,
    newest_slice,
    paired_noise,
    profile_training_set,
    score_on_holdout,
)

NAMES = ["amount_z", "txn_count_1h", "is_foreign"]
TRUE_W = [1.5, 1.0, 2.0]


def linear_onnx(path: Path, weights: Sequence[float], bias: float, names: Sequence[str]) -> Path:
    """score = sigmoid(features @ w + b), with ``names`` in its metadata."""
    return write_linear_onnx(path, names, weights, bias)


def training_set(path: Path, rows: int = 600, seed: int = 0, names: Sequence[str] = NAMES) -> Path:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, len(names)))
    logits = X @ np.asarray(TRUE_W[: len(names)]) - 2.0
    y = (rng.uniform(size=rows) < 1 / (1 + np.exp(-logits))).astype(np.int64)
    columns = {"event_id": [f"e{i}" for i in range(rows)], "ts": np.arange(rows, dtype=np.int64) * 1000, "label": y}
    columns.update({n: X[:, j] for j, n in enumerate(names)})
    table = pa.table(columns).replace_schema_metadata({b"rtml.feature_names": json.dumps(list(names)).encode()})
    pq.write_table(table, path)
    return path


def test_newest_slice_takes_the_last_fraction_by_time_and_keeps_ties() -> None:
    ts = np.array([5, 1, 4, 2, 3, 6, 7, 8, 9, 10])
    assert sorted(ts[newest_slice(ts, 0.2)].tolist()) == [9, 10]
    tied = np.array([1, 1, 2, 2, 2, 2])
    assert tied[newest_slice(tied, 0.3)].tolist() == [2, 2, 2, 2]


def test_scorer_reads_feature_names_from_metadata(tmp_path: Path) -> None:
    scorer = OnnxScorer(linear_onnx(tmp_path / "m.onnx", [1.0, 0.0, 0.0], 0.0, NAMES))
    assert scorer.feature_names == NAMES
    scores = scorer.score(np.array([[0.0, 5.0, 5.0], [100.0, 0.0, 0.0]], np.float32))
    assert scores == pytest.approx([0.5, 1.0])


def test_true_weights_beat_wrong_weights_on_the_holdout(tmp_path: Path) -> None:
    data = training_set(tmp_path / "set.parquet")
    good = evaluate_on_holdout(linear_onnx(tmp_path / "good.onnx", TRUE_W, -2.0, NAMES), data)
    bad = evaluate_on_holdout(linear_onnx(tmp_path / "bad.onnx", [-1.0, 0.0, 0.5], 0.0, NAMES), data)
    assert good.rows == 90 and 0 < good.positives < 90
    assert good.metrics["pr_auc"] > bad.metrics["pr_auc"]
    assert good.metrics["roc_auc"] > 0.8 > bad.metrics["roc_auc"]
    assert good.metrics["brier"] < bad.metrics["brier"]


def test_a_model_reads_its_columns_by_name(tmp_path: Path) -> None:
    data = training_set(tmp_path / "set.parquet")
    reordered = linear_onnx(tmp_path / "r.onnx", TRUE_W[::-1], -2.0, NAMES[::-1])
    same = linear_onnx(tmp_path / "s.onnx", TRUE_W, -2.0, NAMES)
    assert evaluate_on_holdout(reordered, data).metrics == pytest.approx(evaluate_on_holdout(same, data).metrics)


def test_missing_features_are_reported_not_scored(tmp_path: Path) -> None:
    data = training_set(tmp_path / "set.parquet", names=NAMES[:2])
    result = evaluate_on_holdout(linear_onnx(tmp_path / "m.onnx", TRUE_W, -2.0, NAMES), data)
    assert result.missing_features == ("is_foreign",) and result.metrics == {}


def test_one_class_holdout_has_no_auc(tmp_path: Path) -> None:
    path = tmp_path / "set.parquet"
    pq.write_table(pa.table({"event_id": ["a", "b"], "ts": [1, 2], "label": [0, 0], "x": [0.1, 0.2]}), path)
    result = evaluate_on_holdout(linear_onnx(tmp_path / "m.onnx", [1.0], 0.0, ["x"]), path, fraction=0.5)
    assert set(result.metrics) == {"brier"} and result.rows == 1


def test_profile_of_a_training_set(tmp_path: Path) -> None:
    data = training_set(tmp_path / "set.parquet", rows=200)
    profile = profile_training_set(linear_onnx(tmp_path / "m.onnx", TRUE_W, -2.0, NAMES), data)
    assert profile.feature_names == NAMES and profile.rows == 200
    assert sum(profile.score.proportions) == pytest.approx(1.0)


def test_unreadable_inputs_raise_one_error(tmp_path: Path) -> None:
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    with pytest.raises(HoldoutError, match="cannot load ONNX model"):
        OnnxScorer(tmp_path / "junk.onnx")
    with pytest.raises(HoldoutError, match="cannot read training set"):
        evaluate_on_holdout(linear_onnx(tmp_path / "m.onnx", [1.0], 0.0, ["x"]), tmp_path / "nope.parquet")


def test_paired_noise_shrinks_with_more_positives_and_is_zero_for_one_model() -> None:
    rng = np.random.default_rng(3)

    def noise(n: int) -> dict[str, float]:
        y = (rng.uniform(size=n) < 0.05).astype(np.int64)
        a = y * 1.0 + rng.normal(size=n)
        b = y * 0.8 + rng.normal(size=n)
        return paired_noise(y, a, b)

    small, large = noise(400), noise(20_000)
    assert set(small) == {"pr_auc", "roc_auc", "brier"}
    assert small["pr_auc"] > 3 * large["pr_auc"] and small["roc_auc"] > 3 * large["roc_auc"]
    y = (rng.uniform(size=500) < 0.1).astype(np.int64)
    same = rng.normal(size=500)
    assert paired_noise(y, same, same)["roc_auc"] == 0.0  # the same model on the same rows: no difference
    assert paired_noise(np.zeros(10, np.int64), same[:10], same[:10]) == {}  # one class: nothing to say


def test_score_on_holdout_gives_the_rows_the_evaluation_was_measured_on(tmp_path: Path) -> None:
    data = training_set(tmp_path / "set.parquet")
    evaluation, y, scores = score_on_holdout(linear_onnx(tmp_path / "m.onnx", TRUE_W, -2.0, NAMES), data)
    assert len(y) == len(scores) == evaluation.rows == 90 and int(y.sum()) == evaluation.positives
    assert evaluation == evaluate_on_holdout(tmp_path / "m.onnx", data)

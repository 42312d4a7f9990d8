"""Score an ONNX model on a training-set Parquet file: holdout metrics for the gate, profiles for drift.

The file follows ``training.dataset``: ``event_id``, ``ts`` (epoch ms), ``label``, then feature columns.
A model reads its inputs by name (ONNX metadata ``rtml.feature_names``), so a champion trained on other
columns is scored on the same rows as long as the file holds every column it needs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from training.gate import Evaluation
from training.profile import ReferenceProfile, build_profile

FEATURE_NAMES_KEY = "rtml.feature_names"
BATCH_ROWS = 65_536


class HoldoutError(Exception):
    """A model or a training set cannot be read or scored; the message names the file."""


def newest_slice(ts: np.ndarray, fraction: float) -> np.ndarray:
    """Indices of the newest ``fraction`` of rows by ``ts``; rows with the cut's ``ts`` all go in."""
    if not len(ts):
        return np.arange(0)
    ordered = np.sort(ts, kind="stable")
    cut = min(len(ts) - 1, int(round((1 - fraction) * len(ts))))
    return np.flatnonzero(ts >= ordered[cut])


class OnnxScorer:
    """An ONNX Runtime CPU session over one model: ``features`` float32 [N, F] in, ``score`` [N] out."""

    def __init__(self, path: str | Path, feature_names: Sequence[str] | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        try:
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.log_severity_level = 3
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise HoldoutError(f"cannot load ONNX model {self.path}: {exc}") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        names = json.loads(meta[FEATURE_NAMES_KEY]) if FEATURE_NAMES_KEY in meta else feature_names
        if not names:
            raise HoldoutError(f"{self.path} has no {FEATURE_NAMES_KEY} metadata: re-export it with training.export")
        self.feature_names: list[str] = list(names)
        self.input = self.session.get_inputs()[0].name
        outputs = [o.name for o in self.session.get_outputs()]
        self.output = "score" if "score" in outputs else outputs[0]

    def score(self, X: np.ndarray) -> np.ndarray:
        parts = [
            np.asarray(self.session.run([self.output], {self.input: X[i : i + BATCH_ROWS]})[0]).reshape(-1)
            for i in range(0, len(X), BATCH_ROWS)
        ]
        scores = np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)
        if len(scores) != len(X) or not np.isfinite(scores).all():
            raise HoldoutError(f"{self.path} gave {len(scores)} scores for {len(X)} rows, or non-finite ones")
        return scores


def _read(path: str | Path, columns: Sequence[str]) -> dict[str, np.ndarray]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=list(columns))
    except (OSError, pa.ArrowException) as exc:
        raise HoldoutError(f"cannot read training set {path}: {exc}") from None
    return {name: table.column(name).cast(pa.float64()).fill_null(math.nan).to_numpy() for name in columns}


def _columns(path: str | Path) -> list[str]:
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except OSError as exc:
        raise HoldoutError(f"cannot read training set {path}: {exc}") from None


def evaluate_on_holdout(onnx_path: str | Path, training_set_path: str | Path, *, fraction: float = 0.15) -> Evaluation:
    """pr_auc (average precision), roc_auc and brier of the model on the newest ``fraction`` by ``ts``."""
    return score_on_holdout(onnx_path, training_set_path, fraction=fraction)[0]


def score_on_holdout(
    onnx_path: str | Path, training_set_path: str | Path, *, fraction: float = 0.15
) -> tuple[Evaluation, np.ndarray, np.ndarray]:
    """``(evaluation, labels, scores)`` of the model on the newest ``fraction`` by ``ts`` (no rows scored
    when the set lacks a feature of the model)."""
    model = OnnxScorer(onnx_path)
    present = set(_columns(training_set_path))
    missing = tuple(n for n in model.feature_names if n not in present)
    if missing:
        return Evaluation(metrics={}, missing_features=missing), np.zeros(0, np.int64), np.zeros(0)
    data = _read(training_set_path, ["ts", "label", *model.feature_names])
    rows = newest_slice(data["ts"], fraction)
    X = np.column_stack([data[n][rows] for n in model.feature_names]).astype(np.float32)
    y = data["label"][rows].astype(np.int64)
    scores = model.score(X)
    positives = int(y.sum())
    return Evaluation(metrics=_metrics(y, scores), rows=len(y), positives=positives), y, scores


def _metrics(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    from training.evaluate import brier, pr_auc, roc_auc

    positives = int(y.sum())
    metrics = {"brier": brier(y, scores)} if len(y) else {}
    if 0 < positives < len(y):
        metrics["pr_auc"] = pr_auc(y, scores)
        metrics["roc_auc"] = roc_auc(y, scores)
    return metrics


def paired_noise(
    y: np.ndarray, challenger: np.ndarray, champion: np.ndarray, *, resamples: int = 200, seed: int = 0
) -> dict[str, float]:
    """Per metric, the bootstrap standard error of challenger minus champion on the same rows: each resample
    draws the positives and the negatives with replacement (their counts kept), and both models are measured
    on it. Empty where a class is missing."""
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y != 1)
    if not len(positives) or not len(negatives) or len(challenger) != len(y) or len(champion) != len(y):
        return {}
    rng = np.random.default_rng(seed)
    deltas: dict[str, list[float]] = {}
    for _ in range(resamples):
        rows = np.concatenate([rng.choice(positives, len(positives)), rng.choice(negatives, len(negatives))])
        new, old = _metrics(y[rows], challenger[rows]), _metrics(y[rows], champion[rows])
        for name in new.keys() & old.keys():
            deltas.setdefault(name, []).append(new[name] - old[name])
    return {name: float(np.std(values, ddof=1)) for name, values in deltas.items() if len(values) > 1}


def profile_training_set(onnx_path: str | Path, training_set_path: str | Path) -> ReferenceProfile:
    """The reference profile of every row of the training set, scored by the model."""
    model = OnnxScorer(onnx_path)
    missing = [n for n in model.feature_names if n not in set(_columns(training_set_path))]
    if missing:
        raise HoldoutError(f"training set {training_set_path} lacks the model's features {missing}")
    data = _read(training_set_path, model.feature_names)
    X = np.column_stack([data[n] for n in model.feature_names]).astype(np.float32)
    return build_profile(X, model.score(X), model.feature_names)

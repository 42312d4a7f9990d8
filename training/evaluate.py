"""Offline evaluation of scores against labels: ranking, calibration and a thresholded decision.

Pure functions over numpy arrays, equal to sklearn.metrics' (the unit tests compare them); numpy, not sklearn,
because every training rank imports this module and sklearn's import costs seconds per rank. A model is judged on
the newest time slice (test); its threshold is chosen on the validation slice, never on test. Every report carries
the trivial baseline, a constant predictor of the train prevalence (ROC-AUC 0.5, PR-AUC = test prevalence), as the
bar to beat.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Evaluation:
    """Metrics of one set of scores on one slice; ``roc_auc``/``pr_auc`` are NaN when the slice has one class."""

    rows: int
    positives: int
    prevalence: float
    roc_auc: float
    pr_auc: float
    brier: float
    threshold: float
    f1: float
    precision: float
    recall: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN becomes ``None``."""
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, tied scores share their mean rank); NaN with one class."""
    actual = np.asarray(y).ravel() == 1
    if not _both_classes(actual):
        return math.nan
    positives = int(actual.sum())
    negatives = len(actual) - positives
    ranks = _mean_ranks(np.asarray(scores, dtype=np.float64).ravel())
    return float((ranks[actual].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def pr_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (the step-wise area under the precision-recall curve); NaN without positives."""
    actual = np.asarray(y).ravel() == 1
    if not np.any(actual):
        return math.nan
    precision, recall, _ = _pr_points(actual, np.asarray(scores, dtype=np.float64).ravel())
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def brier(y: np.ndarray, scores: np.ndarray) -> float:
    """Mean squared error of the probabilities."""
    return float(np.mean((np.asarray(scores, dtype=np.float64).ravel() - (np.asarray(y).ravel() == 1)) ** 2))


def f1_at(y: np.ndarray, scores: np.ndarray, threshold: float) -> tuple[float, float, float]:
    """(F1, precision, recall) when every score ``>= threshold`` is flagged; 0 where undefined."""
    actual = np.asarray(y).ravel() == 1
    flagged = np.asarray(scores).ravel() >= threshold
    hits = int(np.sum(actual & flagged))
    precision = hits / int(flagged.sum()) if flagged.any() else 0.0
    recall = hits / int(actual.sum()) if actual.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return float(f1), float(precision), float(recall)


def choose_threshold(y: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold that maximizes F1 on (validation) data; the lowest such threshold on ties.

    Falls back to 0.5 when ``y`` holds no positive, where F1 is 0 at every threshold.
    """
    if not np.any(y == 1):
        return DEFAULT_THRESHOLD
    precision, recall, thresholds = _pr_points(np.asarray(y).ravel() == 1, np.asarray(scores, dtype=np.float64).ravel())
    precision, recall, thresholds = precision[::-1], recall[::-1], thresholds[::-1]  # lowest first: ties go low
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0)
    return float(thresholds[int(np.argmax(f1))])


def evaluate(y: np.ndarray, scores: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> Evaluation:
    """All metrics of ``scores`` (probabilities) against 0/1 labels ``y``."""
    y = np.asarray(y).astype(np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    if y.shape != scores.shape or y.ndim != 1 or len(y) == 0:
        raise ValueError(f"labels {y.shape} and scores {scores.shape} must be equal non-empty 1-d arrays")
    f1, precision, recall = f1_at(y, scores, threshold)
    positives = int(y.sum())
    return Evaluation(
        rows=len(y),
        positives=positives,
        prevalence=positives / len(y),
        roc_auc=roc_auc(y, scores),
        pr_auc=pr_auc(y, scores),
        brier=brier(y, scores),
        threshold=float(threshold),
        f1=f1,
        precision=precision,
        recall=recall,
    )


def baseline(y: np.ndarray, prevalence: float) -> Evaluation:
    """The constant predictor of ``prevalence`` (taken from train), evaluated on ``y``."""
    return evaluate(y, np.full(len(y), prevalence, dtype=np.float64), threshold=prevalence)


def report(
    y_val: np.ndarray, scores_val: np.ndarray, y_test: np.ndarray, scores_test: np.ndarray, train_prevalence: float
) -> dict[str, Any]:
    """The run's ``metrics.json``: threshold chosen on validation, model and baseline judged on test."""
    threshold = choose_threshold(y_val, scores_val)
    test = evaluate(y_test, scores_test, threshold)
    trivial = baseline(y_test, train_prevalence)
    return {
        "slice": "test",
        "threshold": threshold,
        "threshold_rule": "max_f1_on_validation",
        "test": test.as_dict(),
        "validation": evaluate(y_val, scores_val, threshold).as_dict(),
        "baseline": trivial.as_dict(),
        "beats_baseline": {
            "roc_auc": _greater(test.roc_auc, trivial.roc_auc),
            "pr_auc": _greater(test.pr_auc, trivial.pr_auc),
            "brier": _greater(trivial.brier, test.brier),
        },
    }


def _mean_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``values``, ties given the mean of the ranks they span (``scipy.stats.rankdata``)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def _pr_points(actual: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, threshold) at each distinct score, from the highest down: flag every score >= it."""
    order = np.argsort(-scores, kind="mergesort")
    ordered, hits = scores[order], actual[order]
    last = np.r_[np.flatnonzero(ordered[1:] != ordered[:-1]), len(ordered) - 1]  # the last row of each score
    true_pos = np.cumsum(hits)[last].astype(np.float64)
    flagged = (last + 1).astype(np.float64)
    return true_pos / flagged, true_pos / max(true_pos[-1], 1.0), ordered[last]


def _both_classes(y: np.ndarray) -> bool:
    return bool(np.any(y == 1) and np.any(y == 0))


def _greater(a: float, b: float) -> bool:
    return not (math.isnan(a) or math.isnan(b)) and a > b

"""Offline evaluation of scores against labels: ranking, calibration and a thresholded decision.

Pure functions over arrays (sklearn.metrics underneath). A model is judged on the newest time slice (test);
its threshold is chosen on the validation slice, never on test. Every report carries the trivial baseline,
a constant predictor of the train prevalence (ROC-AUC 0.5, PR-AUC = test prevalence), as the bar to beat.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn import metrics

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
    """Area under the ROC curve; NaN when ``y`` holds a single class."""
    return float(metrics.roc_auc_score(y, scores)) if _both_classes(y) else math.nan


def pr_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (the step-wise area under the precision-recall curve); NaN without positives."""
    return float(metrics.average_precision_score(y, scores)) if np.any(y == 1) else math.nan


def brier(y: np.ndarray, scores: np.ndarray) -> float:
    """Mean squared error of the probabilities."""
    return float(metrics.brier_score_loss(y, scores))


def f1_at(y: np.ndarray, scores: np.ndarray, threshold: float) -> tuple[float, float, float]:
    """(F1, precision, recall) when every score ``>= threshold`` is flagged; 0 where undefined."""
    flagged = (np.asarray(scores) >= threshold).astype(np.int64)
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(y, flagged, average="binary", zero_division=0.0)
    return float(f1), float(precision), float(recall)


def choose_threshold(y: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold that maximizes F1 on (validation) data; the lowest such threshold on ties.

    Falls back to 0.5 when ``y`` holds no positive, where F1 is 0 at every threshold.
    """
    if not np.any(y == 1):
        return DEFAULT_THRESHOLD
    precision, recall, thresholds = metrics.precision_recall_curve(y, scores)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
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


def _both_classes(y: np.ndarray) -> bool:
    return bool(np.any(y == 1) and np.any(y == 0))


def _greater(a: float, b: float) -> bool:
    return not (math.isnan(a) or math.isnan(b)) and a > b

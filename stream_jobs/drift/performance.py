"""The model against late labels: rolling accuracy, ROC-AUC and precision, and ADWIN on the error stream.

Metrics are over the last ``size`` joined outcomes. ADWIN (river) sees every outcome's 0/1 misclassification;
a detected change raises a ``performance`` finding when the error rate went up (a drop in error is good news,
not drift), with the rolling metrics as evidence.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np
from river import drift
from scipy.stats import rankdata

from stream_jobs.drift.detectors import Finding
from stream_jobs.drift.joins import Outcome


def roc_auc(scores: np.ndarray, actual: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties averaged); None unless both classes are present."""
    positives = int(actual.sum())
    negatives = len(actual) - positives
    if not positives or not negatives:
        return None
    ranks = rankdata(scores)
    return float((ranks[actual == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


class RollingPerformance:
    def __init__(self, size: int = 2000, adwin_delta: float = 1e-4) -> None:
        if size < 1:
            raise ValueError(f"size must be positive, got {size}")
        self.size = size
        self.adwin_delta = adwin_delta
        self.outcomes: deque[tuple[float, int, int]] = deque(maxlen=size)
        self.adwin = drift.ADWIN(delta=adwin_delta)
        self.seen = 0

    def add(self, outcomes: Iterable[Outcome]) -> list[Finding]:
        """Add outcomes in arrival order -> one finding (drifted if the error rate rose), none if no outcomes."""
        rose_from: float | None = None
        added = 0
        for o in outcomes:
            self.outcomes.append((o.score, o.predicted, o.actual))
            before = self.adwin.estimation
            self.adwin.update(o.error)
            added += 1
            if self.adwin.drift_detected and self.adwin.estimation > before and rose_from is None:
                rose_from = before
        self.seen += added
        if not added:
            return []
        evidence: dict[str, float | str | None] = {
            "error_before": rose_from,
            "error_after": self.adwin.estimation,
            "accuracy": self.accuracy,
            "roc_auc": self.roc_auc,
            "precision": self.precision,
            "outcomes": len(self.outcomes),
        }
        error = float(self.adwin.estimation)
        threshold = error if rose_from is None else float(rose_from)
        return [Finding("performance", "adwin", None, error, threshold, rose_from is not None, "critical", evidence)]

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a = np.asarray(self.outcomes, dtype=np.float64).reshape(-1, 3)
        return a[:, 0], a[:, 1], a[:, 2]

    @property
    def accuracy(self) -> float | None:
        if not self.outcomes:
            return None
        _, predicted, actual = self._arrays()
        return float((predicted == actual).mean())

    @property
    def roc_auc(self) -> float | None:
        scores, _, actual = self._arrays()
        return roc_auc(scores, actual)

    @property
    def precision(self) -> float | None:
        """Share of true positives among the outcomes the model called positive (at its threshold)."""
        _, predicted, actual = self._arrays()
        called = predicted == 1
        return float(actual[called].mean()) if called.any() else None

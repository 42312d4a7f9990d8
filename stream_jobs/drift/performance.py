"""The model against late labels: rolling accuracy, ROC-AUC and precision, and ADWIN on the error stream.

Metrics are over the last ``size`` joined outcomes. ADWIN (river) sees every outcome's 0/1 misclassification;
a detected change raises a ``performance`` finding when the error rate went up (a drop in error is good news,
not drift), with the rolling metrics as evidence, and ``changed_at``: the event time where the rise most likely
began (``change_point`` over the last ``size`` outcomes). ADWIN's own window says little about that: after a
detection it still reaches back over many of the old outcomes (here ~1,200 of them for a 2 % -> 20 % rise), and
a batch of joined outcomes spans however long the monitor was behind. The retrain trigger bounds its post-drift
data by where the shift began, so an estimate that is too early trains on too little of it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np
from river import drift
from scipy.special import xlogy
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


def change_point(errors: np.ndarray) -> int:
    """Index of the first value after the most likely single change in the rate of a 0/1 sequence: the split into
    two Bernoulli segments of greatest likelihood (0 when there are fewer than two values)."""
    e = np.asarray(errors, dtype=np.float64)
    n = len(e)
    if n < 2:
        return 0
    k = np.arange(1, n, dtype=np.float64)  # split before index k: [0, k) and [k, n)
    left = np.cumsum(e)[:-1]
    right = e.sum() - left

    def loglik(s: np.ndarray, m: np.ndarray) -> np.ndarray:
        return xlogy(s, s / m) + xlogy(m - s, (m - s) / m)

    return int(np.argmax(loglik(left, k) + loglik(right, n - k))) + 1


class RollingPerformance:
    def __init__(self, size: int = 2000, adwin_delta: float = 1e-4) -> None:
        if size < 1:
            raise ValueError(f"size must be positive, got {size}")
        self.size = size
        self.adwin_delta = adwin_delta
        self.outcomes: deque[tuple[float, int, int]] = deque(maxlen=size)
        self.times: deque[int] = deque(maxlen=size)  # the outcomes' event times, in arrival order
        self.adwin = drift.ADWIN(delta=adwin_delta)
        self.seen = 0

    def add(self, outcomes: Iterable[Outcome]) -> list[Finding]:
        """Add outcomes in arrival order -> one finding (drifted if the error rate rose), none if no outcomes."""
        rose_from: float | None = None
        changed_at: int | None = None
        added = 0
        for o in outcomes:
            self.outcomes.append((o.score, o.predicted, o.actual))
            self.times.append(o.ts)
            before = self.adwin.estimation
            self.adwin.update(o.error)
            added += 1
            if self.adwin.drift_detected and self.adwin.estimation > before and rose_from is None:
                rose_from = before
                changed_at = self.changed_at()
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
            "changed_at": None if changed_at is None else float(changed_at),
        }
        error = float(self.adwin.estimation)
        threshold = error if rose_from is None else float(rose_from)
        return [Finding("performance", "adwin", None, error, threshold, rose_from is not None, "critical", evidence)]

    def changed_at(self) -> int:
        """Event time of the first outcome after the most likely change in the error rate of the last outcomes."""
        _, predicted, actual = self._arrays()
        return self.times[change_point(predicted != actual)]

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

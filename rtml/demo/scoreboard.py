"""What the demo saw, as a subscriber would: predictions joined with their late labels, drift events and
model updates, each with the wall time it arrived. Pure: ``observer.py`` feeds it from Kafka.

Outcomes are the joined (prediction, label) pairs. ``rolling`` gives accuracy, ROC-AUC, precision and
recall at the threshold over the last outcomes in event-time order; ``live`` the dashboard's figures.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from schemas.drift import DriftEvent
from schemas.label import Label
from schemas.model_update import ModelUpdate
from schemas.prediction import Prediction

LIVE_WINDOW_MS = 5_000


@dataclass(frozen=True, slots=True)
class Outcome:
    event_ts: int
    version: str
    score: float
    predicted: int
    actual: int


@dataclass(frozen=True)
class Quality:
    n: int
    accuracy: float
    roc_auc: float  # NaN when the outcomes hold one class only
    precision: float  # NaN when nothing was flagged
    recall: float  # NaN when there was no positive
    positives: int = 0

    @property
    def roc_auc_se(self) -> float:
        """Standard error of ``roc_auc`` (Hanley and McNeil, 1982): with a few dozen frauds among thousands of
        outcomes it is several points, which is what two phases' ROC-AUCs can differ by through chance alone."""
        auc, pos, neg = self.roc_auc, self.positives, self.n - self.positives
        if math.isnan(auc) or not pos or not neg:
            return math.nan
        q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
        return math.sqrt((auc * (1 - auc) + (pos - 1) * (q1 - auc**2) + (neg - 1) * (q2 - auc**2)) / (pos * neg))


def quality(outcomes: Sequence[Outcome]) -> Quality:
    if not outcomes:
        return Quality(0, math.nan, math.nan, math.nan, math.nan)
    y = np.fromiter((o.actual for o in outcomes), dtype=np.int8, count=len(outcomes))
    p = np.fromiter((o.predicted for o in outcomes), dtype=np.int8, count=len(outcomes))
    s = np.fromiter((o.score for o in outcomes), dtype=np.float64, count=len(outcomes))
    tp = int(np.sum((p == 1) & (y == 1)))
    flagged, positives = int(p.sum()), int(y.sum())
    return Quality(
        n=len(outcomes),
        accuracy=float(np.mean(p == y)),
        roc_auc=roc_auc(y, s),
        precision=tp / flagged if flagged else math.nan,
        recall=tp / positives if positives else math.nan,
        positives=positives,
    )


def roc_auc(y: np.ndarray, s: np.ndarray) -> float:
    """The Mann-Whitney estimate (ties count half); NaN without both classes."""
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if not pos or not neg:
        return math.nan
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


@dataclass
class Scoreboard:
    label_ttl_ms: int = 15 * 60_000
    predictions: int = 0
    unjoined: dict[str, tuple[int, str, float, int]] = field(default_factory=dict)  # event_id -> prediction
    early_labels: dict[str, int] = field(default_factory=dict)  # label seen before its prediction
    outcomes: list[Outcome] = field(default_factory=list)
    drifts: list[tuple[int, DriftEvent]] = field(default_factory=list)  # (arrived wall ms, event)
    updates: list[tuple[int, ModelUpdate]] = field(default_factory=list)
    first_scored: dict[str, int] = field(default_factory=dict)  # version -> wall ms of its first prediction
    recent: deque[tuple[int, float]] = field(default_factory=deque)  # (arrived wall ms, e2e latency ms)
    latencies_ms: list[tuple[int, float]] = field(default_factory=list)  # (event time, ms to its prediction), all
    shadow: int = 0

    def prediction(self, p: Prediction, now_ms: int) -> None:
        if p.shadow:
            self.shadow += 1
            return
        self.predictions += 1
        self.first_scored.setdefault(p.version, p.scored_at)
        latency = max(0.0, float(p.scored_at - p.ts))
        self.recent.append((now_ms, latency))
        self.latencies_ms.append((p.ts, latency))
        actual = self.early_labels.pop(p.event_id, None)
        if actual is not None:
            self.outcomes.append(Outcome(p.ts, p.version, p.score, p.label, actual))
        else:
            self.unjoined[p.event_id] = (p.ts, p.version, p.score, p.label)

    def label(self, label: Label, now_ms: int) -> None:
        found = self.unjoined.pop(label.event_id, None)
        if found is None:
            self.early_labels[label.event_id] = label.label
        else:
            ts, version, score, predicted = found
            self.outcomes.append(Outcome(ts, version, score, predicted, label.label))
        if len(self.unjoined) > 200_000 or len(self.early_labels) > 200_000:
            self.expire(label.ts)

    def expire(self, event_now_ms: int) -> None:
        """Forget predictions whose label is later than the TTL, and early labels that never matched."""
        horizon = event_now_ms - self.label_ttl_ms
        self.unjoined = {k: v for k, v in self.unjoined.items() if v[0] >= horizon}
        if len(self.early_labels) > 100_000:
            self.early_labels.clear()

    def drift(self, event: DriftEvent, now_ms: int) -> None:
        self.drifts.append((now_ms, event))

    def update(self, update: ModelUpdate, now_ms: int) -> None:
        self.updates.append((now_ms, update))

    def live(self, now_ms: int) -> tuple[float, float]:
        """Predictions per second and the p99 end-to-end latency (ms) over the last few seconds."""
        while self.recent and self.recent[0][0] < now_ms - LIVE_WINDOW_MS:
            self.recent.popleft()
        if not self.recent:
            return 0.0, math.nan
        latencies = sorted(latency for _, latency in self.recent)
        return len(latencies) / (LIVE_WINDOW_MS / 1000), latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]

    def rolling(self, last: int = 2000) -> Quality:
        return quality(self.outcomes[-last:])

    def serving_version(self) -> str | None:
        """The version of the newest champion promotion seen, else the first version that scored."""
        champions = [u for _, u in self.updates if u.alias == "champion" and u.action in ("promoted", "rolled_back")]
        if champions:
            return champions[-1].version
        return next(iter(self.first_scored), None)

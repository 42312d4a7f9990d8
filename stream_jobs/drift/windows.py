"""Tumbling windows over a model's predictions, binned with the reference profile's cuts.

A window closes after ``size`` predictions, or when a prediction arrives ``max_ms`` of event time or more after
the window's first one (that prediction opens the next window), whichever comes first. While open, a window
keeps per feature the counts in the reference's bins, the missing count, the sum of the values and a bounded
uniform sample of them (for the KS test); the same for the score. Pure: numpy in, ``ClosedWindow`` out.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from training.profile import Binned, ReferenceProfile


@dataclass(frozen=True)
class Column:
    """One closed window's figures for a feature (``name``) or the score (``name`` None)."""

    name: str | None
    counts: np.ndarray  # per reference bin, non-missing values only
    missing: int
    mean: float  # NaN when every value was missing
    sample: np.ndarray  # up to the sample size, uniform over the non-missing values; arrival order until full

    @property
    def n(self) -> int:
        return int(self.counts.sum())


@dataclass(frozen=True)
class ClosedWindow:
    """``index`` counts the windows since the monitor (re)started; ``start``/``end``: least and greatest ``ts``."""

    index: int
    start: int
    end: int
    count: int
    features: list[Column]
    score: Column


class _ColumnAccumulator:
    """Counts, sum and a reservoir sample of one column; plain attributes, so it pickles."""

    def __init__(self, name: str | None, binned: Binned, sample_size: int, seed: int) -> None:
        self.name = name
        self.inner_cuts = np.asarray(binned.cuts, dtype=np.float64)
        self.sample_size = sample_size
        self.rng = random.Random(seed)
        self.clear()

    def clear(self) -> None:
        self.counts = np.zeros(len(self.inner_cuts) + 1, dtype=np.int64)
        self.missing = 0
        self.total = 0.0
        self.seen = 0
        self.sample: list[float] = []

    def add(self, values: np.ndarray) -> None:
        finite = values[np.isfinite(values)]
        self.missing += len(values) - len(finite)
        if not len(finite):
            return
        self.counts += np.bincount(np.searchsorted(self.inner_cuts, finite, side="left"), minlength=len(self.counts))
        self.total += float(finite.sum())
        if len(self.sample) + len(finite) <= self.sample_size:
            self.sample.extend(finite.tolist())
            self.seen += len(finite)
            return
        for value in finite.tolist():  # reservoir sampling once the window outgrows the sample
            if len(self.sample) < self.sample_size:
                self.sample.append(value)
            elif (j := self.rng.randrange(self.seen + 1)) < self.sample_size:
                self.sample[j] = value
            self.seen += 1

    def close(self) -> Column:
        n = int(self.counts.sum())
        column = Column(
            self.name,
            self.counts.copy(),
            self.missing,
            self.total / n if n else math.nan,
            np.asarray(self.sample, dtype=np.float64),
        )
        self.clear()
        return column


class WindowAccumulator:
    """The open window of one model; ``add`` returns the windows that closed on the way."""

    def __init__(self, reference: ReferenceProfile, size: int, max_ms: int, sample_size: int = 1000) -> None:
        if size < 1 or max_ms < 1 or sample_size < 1:
            raise ValueError(f"size, max_ms and sample_size must be positive, got {size}, {max_ms}, {sample_size}")
        self.reference = reference
        self.size = size
        self.max_ms = max_ms
        self.sample_size = sample_size
        self._reset()

    def _reset(self) -> None:
        self.feature_names = list(self.reference.feature_names)
        self.columns = [
            _ColumnAccumulator(f.name, f, self.sample_size, seed=i) for i, f in enumerate(self.reference.features)
        ]
        self.score = _ColumnAccumulator(None, self.reference.score, self.sample_size, seed=len(self.columns))
        self.index = 0
        self.count = 0
        self.start = 0
        self.end = 0

    def matrix(self, rows: Sequence[dict[str, float | None]]) -> np.ndarray:
        """Feature dicts as a [n, F] matrix in the reference's order; NaN for None or an absent feature."""
        nan = math.nan
        return np.array(
            [[nan if (v := row.get(name)) is None else v for name in self.feature_names] for row in rows],
            dtype=np.float64,
        ).reshape(len(rows), len(self.feature_names))

    def add(self, ts: np.ndarray, X: np.ndarray, scores: np.ndarray) -> list[ClosedWindow]:
        """Add predictions in arrival order: event times [n], features [n, F], scores [n]."""
        closed: list[ClosedWindow] = []
        i, n = 0, len(ts)
        while i < n:
            if self.count == 0:
                self.start = self.end = int(ts[i])
            stop = min(n, i + self.size - self.count)
            late = np.flatnonzero(ts[i:stop] >= self.start + self.max_ms)
            timed_out = bool(late.size)
            if timed_out:
                stop = i + int(late[0])
            if stop > i:
                self._absorb(ts[i:stop], X[i:stop], scores[i:stop])
            i = stop
            if timed_out or self.count >= self.size:
                closed.append(self._close())
        return closed

    def _absorb(self, ts: np.ndarray, X: np.ndarray, scores: np.ndarray) -> None:
        for j, column in enumerate(self.columns):
            column.add(X[:, j])
        self.score.add(scores)
        self.count += len(ts)
        self.start = min(self.start, int(ts.min()))
        self.end = max(self.end, int(ts.max()))

    def _close(self) -> ClosedWindow:
        window = ClosedWindow(
            self.index,
            self.start,
            self.end,
            self.count,
            [c.close() for c in self.columns],
            self.score.close(),
        )
        self.index += 1
        self.count = 0
        return window

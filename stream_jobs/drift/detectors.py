"""Drift detectors: one ``Detector`` interface, three kinds of implementation.

- ``PsiDetector`` and ``KsDetector`` compare each closed window with the reference profile (is the live data
  like the training data?). They test every feature and the score once per window.
- ``StreamingDetector`` feeds river's ADWIN and KSWIN value by value as predictions arrive (``observe``), so
  an abrupt change is caught within tens of predictions, not at the end of a window. ADWIN sees every value of
  every watched column through the reference's probability integral transform: the value's mid-rank in the
  profile's sorted sample, in [0, 1], uniform with mean 1/2 while the column is like the training data, so one
  bounded signal with the same noise for a lognormal amount, a count with atoms or a flag. KSWIN sees every
  ``kswin_every``-th score (``kswin.py``: river's decisions, ~10x cheaper). Their alarms are reported at once;
  at each window close the detector also reports, per column, whether it fired during that window, so the
  debouncer re-arms after quiet windows as for the window tests.
- ``RiverDetector`` feeds Page-Hinkley one standardized mean per column and window (about N(0, 1) while
  nothing changes): a slow, gradual drift of the live stream, at ~10 updates per window.

Parameters are tuned so that a stationary stream raises at most one event per 100k predictions
(tests/unit/stream_jobs/test_monitor.py, tests/benchmarks/bench_drift.py). Every detector reports a ``Finding``
per column and window, drifted or not: the debouncer needs the quiet ones to re-arm. ``build_detectors`` picks
implementations by their type string (``MonitorConfig.detectors``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from river import drift

from schemas.drift import DriftKind, Severity
from stream_jobs.drift.config import MonitorConfig
from stream_jobs.drift.kswin import KSWIN, min_rejecting_distance
from stream_jobs.drift.statistics import mid_ranks, severity_for_psi, standardized_mean, window_ks, window_psi
from stream_jobs.drift.windows import ClosedWindow, Column
from training.profile import Binned, ReferenceProfile


@dataclass(frozen=True)
class Finding:
    """``detector`` on ``feature`` (None: the score, or the model's performance) in one window or batch."""

    kind: DriftKind
    detector: str
    feature: str | None
    statistic: float
    threshold: float
    drifted: bool
    severity: Severity = "warning"
    evidence: dict[str, float | str | None] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.kind, self.detector, self.feature)


def _columns(window: ClosedWindow, reference: ReferenceProfile) -> Iterator[tuple[DriftKind, Column, Binned]]:
    for column, profile in zip(window.features, reference.features, strict=True):
        yield "feature", column, profile
    yield "prediction", window.score, reference.score


class Detector(ABC):
    """Reads closed windows, reports findings; ``name`` is the ``detector`` of the drift events it causes."""

    name: str

    @abstractmethod
    def update(self, window: ClosedWindow) -> list[Finding]: ...


class PsiDetector(Detector):
    name = "psi"

    def __init__(self, reference: ReferenceProfile, config: MonitorConfig) -> None:
        self.reference = reference
        self.config = config

    def update(self, window: ClosedWindow) -> list[Finding]:
        c = self.config
        out = []
        for kind, column, ref in _columns(window, self.reference):
            if column.n < c.min_window_values:
                continue
            value = window_psi(ref, column.counts)
            evidence: dict[str, float | str | None] = {
                "n": column.n,
                "missing": column.missing,
                "reference_mean": ref.mean,
                "live_mean": column.mean,
            }
            drifted = value > c.psi_warning
            severity = severity_for_psi(value, c.psi_warning, c.psi_critical)
            out.append(Finding(kind, self.name, column.name, value, c.psi_warning, drifted, severity, evidence))
        return out


class KsDetector(Detector):
    name = "ks"

    def __init__(self, reference: ReferenceProfile, config: MonitorConfig) -> None:
        self.reference = reference
        self.config = config

    def update(self, window: ClosedWindow) -> list[Finding]:
        out = []
        for kind, column, ref in _columns(window, self.reference):
            if column.n < self.config.min_window_values:
                continue
            result = window_ks(ref, column.sample, self.config.ks_alpha)
            if result is None:
                continue
            drifted = result.statistic > result.critical
            severity: Severity = "critical" if result.statistic > 2 * result.critical else "warning"
            evidence: dict[str, float | str | None] = {
                "p_value": result.p_value,
                "alpha": self.config.ks_alpha,
                "n": len(column.sample),
                "reference_n": len(ref.sample),
            }
            out.append(
                Finding(kind, self.name, column.name, result.statistic, result.critical, drifted, severity, evidence)
            )
        return out


class StreamingDetector(Detector):
    """ADWIN or KSWIN per column, fed value by value (``observe``); plain data, so it pickles with the monitor."""

    def __init__(self, name: str, reference: ReferenceProfile, config: MonitorConfig) -> None:
        if name not in STREAMING:
            raise ValueError(f"no streaming detector {name!r}; use one of {', '.join(STREAMING)}")
        self.name = name
        self.config = config
        spec = STREAMING[name]
        self.every = spec.every(config)
        self.transform = spec.transform
        self.threshold = spec.threshold(config)
        columns: list[tuple[DriftKind, str | None, Binned]] = [("feature", f.name, f) for f in reference.features]
        columns.append(("prediction", None, reference.score))
        # (kind, column, its position in observe's matrix or -1 for the score, sorted reference sample)
        self.columns = [
            (kind, column, j if column is not None else -1, np.sort(np.asarray(ref.sample, dtype=np.float64)))
            for j, (kind, column, ref) in enumerate(columns)
            if not (spec.score_only and kind != "prediction") and len(ref.sample)
        ]
        self.detectors = [spec.make(config, i) for i in range(len(self.columns))]
        self.updates = [0] * len(self.columns)  # values fed to each column's detector since the (re)start
        self.seen = [0] * len(self.columns)  # finite values seen (for thinning)
        self.fired: dict[str | None, Finding] = {}  # columns whose detector fired since the last window close

    def observe(self, ts: np.ndarray, X: np.ndarray, scores: np.ndarray) -> list[tuple[int, Finding]]:
        """Predictions in arrival order -> (event time, finding) of each column whose detector fired."""
        out: list[tuple[int, Finding]] = []
        for c, (_, column, j, sample) in enumerate(self.columns):
            values = scores if j < 0 else X[:, j]
            finite = np.flatnonzero(np.isfinite(values))
            seen = self.seen[c]
            self.seen[c] += len(finite)
            if self.every > 1:  # every k-th finite value, counted across batches
                finite = finite[(seen + np.arange(len(finite))) % self.every == 0]
            if not len(finite):
                continue
            signal = mid_ranks(sample, values[finite]) if self.transform else values[finite]
            detector = self.detectors[c]
            hit = -1
            for i, value in enumerate(signal.tolist()):
                detector.update(value)
                if detector.drift_detected and hit < 0:
                    hit = i
            self.updates[c] += len(signal)
            if hit >= 0:
                at = int(ts[finite[hit]])
                finding = self._finding(c, True, {"ts": float(at), "value": float(values[finite[hit]])})
                self.fired[column] = finding
                out.append((at, finding))
        return out

    def update(self, window: ClosedWindow) -> list[Finding]:
        """Per column: did its detector fire since the last window close (quiet ones re-arm the debouncer)."""
        out = [
            self.fired.get(column) or self._finding(c, False, {}) for c, (_, column, _, _) in enumerate(self.columns)
        ]
        self.fired = {}
        return out

    def _finding(self, c: int, drifted: bool, extra: dict[str, float | str | None]) -> Finding:
        kind, column, _, _ = self.columns[c]
        detector = self.detectors[c]
        evidence: dict[str, float | str | None] = {"updates": float(self.updates[c]), **extra}
        for attribute in ("estimation", "width", "p_value"):
            if (v := getattr(detector, attribute, None)) is not None:
                evidence[attribute] = float(v)
        # ADWIN on mid-ranks: how far the live values' mean reference quantile sits from 1/2; KSWIN: its distance
        if isinstance(detector, KSWIN):
            statistic = detector.distance
        elif (estimation := getattr(detector, "estimation", None)) is not None:
            statistic = abs(float(estimation) - 0.5)
        else:
            statistic = 0.0
        return Finding(kind, self.name, column, statistic, self.threshold, drifted, "warning", evidence)


class RiverDetector(Detector):
    """One river detector per column, made and fed as ``RIVER[name]`` says (plain data, so it pickles)."""

    def __init__(self, name: str, reference: ReferenceProfile, config: MonitorConfig) -> None:
        if name not in RIVER:
            raise ValueError(f"no river detector {name!r}; use one of {', '.join(RIVER)}")
        self.name = name
        self.reference = reference
        self.config = config
        self.detectors: dict[str | None, Any] = {}

    def update(self, window: ClosedWindow) -> list[Finding]:
        spec = RIVER[self.name]
        out = []
        for kind, column, ref in _columns(window, self.reference):
            if spec.score_only and kind != "prediction":
                continue
            values = spec.signal(column, ref, self.config)
            if not values:
                continue
            detector = self.detectors.get(column.name)
            if detector is None:
                detector = self.detectors[column.name] = spec.make(self.config, len(self.detectors))
            drifted = False
            for value in values:
                detector.update(value)
                drifted = drifted or bool(detector.drift_detected)
            statistic = abs(float(values[-1]))
            evidence: dict[str, float | str | None] = {"signal": float(values[-1]), "updates": len(values)}
            for attribute in ("estimation", "p_value"):
                if (v := getattr(detector, attribute, None)) is not None:
                    evidence[attribute] = float(v)
            threshold = spec.threshold(self.config)
            out.append(Finding(kind, self.name, column.name, statistic, threshold, drifted, "warning", evidence))
        return out


def standardized_means(column: Column, ref: Binned, config: MonitorConfig) -> list[float]:
    """One value per window: the column's standardized mean (about N(0, 1) while nothing changes)."""
    z = standardized_mean(ref, column.mean, column.n)
    return [] if z is None else [z]


@dataclass(frozen=True)
class RiverSpec:
    make: Callable[[MonitorConfig, int], Any]
    signal: Callable[[Column, Binned, MonitorConfig], list[float]]
    threshold: Callable[[MonitorConfig], float]  # what the drift event reports as ``threshold``
    score_only: bool = False


@dataclass(frozen=True)
class StreamingSpec:
    make: Callable[[MonitorConfig, int], Any]
    threshold: Callable[[MonitorConfig], float]  # what the drift event reports as ``threshold``
    every: Callable[[MonitorConfig], int]  # feed every k-th value
    transform: bool  # feed mid-ranks in the reference sample (True) or raw values
    score_only: bool = False


def _adwin(c: MonitorConfig, seed: int) -> drift.ADWIN:
    return drift.ADWIN(delta=c.adwin_delta, clock=c.adwin_clock)


def _page_hinkley(c: MonitorConfig, seed: int) -> drift.PageHinkley:
    return drift.PageHinkley(min_instances=c.ph_min_instances, delta=c.ph_delta, threshold=c.ph_threshold)


def _kswin(c: MonitorConfig, seed: int) -> KSWIN:
    return KSWIN(alpha=c.kswin_alpha, window_size=c.kswin_window, stat_size=c.kswin_stat_size, seed=seed)


RIVER: dict[str, RiverSpec] = {
    "page_hinkley": RiverSpec(_page_hinkley, standardized_means, lambda c: c.ph_threshold),
}

STREAMING: dict[str, StreamingSpec] = {
    # KS is invariant under the (monotone) mid-rank transform: KSWIN reads the raw scores
    "adwin": StreamingSpec(_adwin, lambda c: c.adwin_delta, lambda c: 1, transform=True),
    "kswin": StreamingSpec(
        _kswin,
        lambda c: min_rejecting_distance(c.kswin_stat_size, c.kswin_alpha),
        lambda c: c.kswin_every,
        transform=False,
        score_only=True,
    ),
}


def build_detectors(reference: ReferenceProfile, config: MonitorConfig) -> list[Detector]:
    """The detectors named in ``config.detectors``, in that order."""
    window_tests: dict[str, type[PsiDetector | KsDetector]] = {"psi": PsiDetector, "ks": KsDetector}
    detectors: list[Detector] = []
    for name in config.detectors:
        if name in window_tests:
            detectors.append(window_tests[name](reference, config))
        elif name in STREAMING:
            detectors.append(StreamingDetector(name, reference, config))
        else:
            detectors.append(RiverDetector(name, reference, config))
    return detectors

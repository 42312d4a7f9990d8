"""Drift detectors on closed windows: one ``Detector`` interface, two kinds of implementation.

- ``PsiDetector`` and ``KsDetector`` compare each window with the reference profile (is the live data like the
  training data?). They test every feature and the score once per window.
- ``RiverDetector`` feeds a river detector (ADWIN, Page-Hinkley, KSWIN) with a summary of each window (has the
  live stream changed?). River detectors are not fed every value: KSWIN costs ~150 us an update and
  Page-Hinkley's defaults raise ~70 false alarms per 100k stationary values. ADWIN and Page-Hinkley see one
  standardized mean per column and window (about N(0, 1) while nothing changes); KSWIN sees every
  ``kswin_every``-th score of the window. Their parameters are tuned so that a stationary stream raises at
  most one alarm per 100k predictions (tests/unit/stream_jobs/test_monitor.py, tests/benchmarks/bench_drift.py).

Every detector reports a ``Finding`` per column and window, drifted or not: the debouncer needs the quiet ones
to re-arm. ``build_detectors`` picks implementations by their type string (``MonitorConfig.detectors``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from river import drift

from schemas.drift import DriftKind, Severity
from stream_jobs.drift.config import MonitorConfig
from stream_jobs.drift.statistics import severity_for_psi, standardized_mean, window_ks, window_psi
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


def thinned_values(column: Column, ref: Binned, config: MonitorConfig) -> list[float]:
    """Every ``kswin_every``-th value of the window, in arrival order."""
    return [float(v) for v in column.sample[:: config.kswin_every]]


@dataclass(frozen=True)
class RiverSpec:
    make: Callable[[MonitorConfig, int], Any]
    signal: Callable[[Column, Binned, MonitorConfig], list[float]]
    threshold: Callable[[MonitorConfig], float]  # what the drift event reports as ``threshold``
    score_only: bool = False


def _adwin(c: MonitorConfig, seed: int) -> drift.ADWIN:
    return drift.ADWIN(delta=c.adwin_delta, clock=1)


def _page_hinkley(c: MonitorConfig, seed: int) -> drift.PageHinkley:
    return drift.PageHinkley(min_instances=c.ph_min_instances, delta=c.ph_delta, threshold=c.ph_threshold)


def _kswin(c: MonitorConfig, seed: int) -> drift.KSWIN:
    return drift.KSWIN(alpha=c.kswin_alpha, window_size=c.kswin_window, stat_size=c.kswin_stat_size, seed=seed)


RIVER: dict[str, RiverSpec] = {
    "adwin": RiverSpec(_adwin, standardized_means, lambda c: c.adwin_delta),
    "page_hinkley": RiverSpec(_page_hinkley, standardized_means, lambda c: c.ph_threshold),
    "kswin": RiverSpec(_kswin, thinned_values, lambda c: c.kswin_alpha, score_only=True),
}


def build_detectors(reference: ReferenceProfile, config: MonitorConfig) -> list[Detector]:
    """The detectors named in ``config.detectors``, in that order."""
    window_tests: dict[str, type[PsiDetector | KsDetector]] = {"psi": PsiDetector, "ks": KsDetector}
    return [
        window_tests[name](reference, config) if name in window_tests else RiverDetector(name, reference, config)
        for name in config.detectors
    ]

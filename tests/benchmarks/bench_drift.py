"""The drift monitor's detectors and core: detection delay, false alarms, throughput.

- Detection delay on river's abrupt example stream (1000 draws from {0, 1}, then 1000 from {4..7}, seeded 12345):
  river's own detectors on every value, as its docs show them (ADWIN: change at index 1023, 23 samples late;
  KSWIN alpha=1e-4 seed=42: 1016, 16 late), beside the monitor's: streaming ADWIN (every value's mid-rank in
  the reference) and KSWIN, and the window tests (the reference profile is built from a separate draw of the
  first regime). KSWIN's defaults are stricter than river's documented example (alpha 1e-6, window 300, every
  2nd value: false alarms); it is also run with the example's parameters.
- False alarms per 100k stationary predictions (tests/support/drift_stream.py, three seeds), default settings.
- Predictions per second through ``DriftMonitor.observe`` (decoded records in, events out), all detectors and
  the window tests only, on one core of this machine (shared: the figures are indicative).

Prints figures, asserts nothing about time. Run either way:

    python -m pytest tests/benchmarks/bench_drift.py -m benchmark -s
    python tests/benchmarks/bench_drift.py
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere

from river import drift  # noqa: E402

from schemas.prediction import Prediction  # noqa: E402
from stream_jobs.drift.config import MonitorConfig  # noqa: E402
from stream_jobs.drift.monitor import DriftMonitor  # noqa: E402
from tests.support.drift_stream import predictions, reference_profile  # noqa: E402
from training.profile import build_profile  # noqa: E402

CHANGE_AT = 1000
STATIONARY = int(os.environ.get("RTML_BENCH_DRIFT_EVENTS", "100000"))


def river_stream() -> list[int]:
    rng = random.Random(12345)
    return rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)


def first_detection(detector: object, stream: list[int]) -> int | None:
    for i, value in enumerate(stream):
        detector.update(value)  # type: ignore[attr-defined]
        if detector.drift_detected and i >= CHANGE_AT:  # type: ignore[attr-defined]
            return i - CHANGE_AT
    return None


def monitor_delays(window: int, **config: Any) -> dict[str, int | None]:
    """Samples after the change until each of the monitor's detectors raised its event (on ``x`` or the score).

    The stream is fed as feature ``x`` and as the score (KSWIN watches the score only)."""
    rng = random.Random(1)
    first = rng.choices([0, 1], k=5000)
    train = np.array([[v] for v in first], dtype=np.float64)
    reference = build_profile(train, np.array(first, dtype=np.float64), ["x"])
    monitor = DriftMonitor("bench", reference, None, MonitorConfig(window_size=window, min_window_values=10, **config))
    found: dict[str, int | None] = dict.fromkeys(monitor.config.detectors)
    for i, value in enumerate(river_stream()):
        p = Prediction(
            event_id=f"e{i}", model="bench", version="1", score=value, label=1, features={"x": value}, ts=i, scored_at=i
        )
        for event in monitor.observe([p]):
            if found[event.detector] is None:
                found[event.detector] = i - CHANGE_AT
    return found


def false_alarms(seeds: tuple[int, ...] = (2, 3, 4)) -> list[int]:
    reference = reference_profile()
    counts = []
    for seed in seeds:
        preds, labels = predictions(STATIONARY, seed=seed)
        monitor = DriftMonitor("fraud", reference, "1")
        events = [e for i in range(0, len(preds), 500) for e in monitor.observe(preds[i : i + 500])]
        events += [e for i in range(0, len(labels), 500) for e in monitor.observe_labels(labels[i : i + 500])]
        counts.append(len(events))
    return counts


def throughput(detectors: tuple[str, ...], n: int = 50_000) -> float:
    preds, _ = predictions(n, seed=9)
    monitor = DriftMonitor("fraud", reference_profile(), "1", MonitorConfig(detectors=detectors))
    start = time.perf_counter()
    for i in range(0, n, 500):
        monitor.observe(preds[i : i + 500])
    return n / (time.perf_counter() - start)


def report() -> None:
    stream = river_stream()
    print(f"\nDetection delay on river's abrupt stream (change at {CHANGE_AT}), samples after the change:")
    print(f"  river ADWIN() on every value:                 {first_detection(drift.ADWIN(), stream)} (docs: 23)")
    kswin = drift.KSWIN(alpha=0.0001, seed=42)
    print(f"  river KSWIN(alpha=1e-4, seed=42) every value: {first_detection(kswin, stream)} (docs: 16)")
    print(f"  river PageHinkley() on every value:           {first_detection(drift.PageHinkley(), stream)}")
    for window in (50, 500):
        delays = ", ".join(f"{name} {delay}" for name, delay in monitor_delays(window).items())
        print(f"  monitor defaults, windows of {window:>3}:         {delays}")
    example = monitor_delays(
        500, detectors=("kswin",), kswin_alpha=1e-4, kswin_window=100, kswin_stat_size=30, kswin_every=1
    )
    print(f"  monitor KSWIN, river's example parameters:    {example['kswin']}")
    counts = false_alarms()
    print(f"False alarms per {STATIONARY:,} stationary predictions (+ their labels), 3 seeds: {counts}")
    for name, detectors in (("all detectors", MonitorConfig().detectors), ("psi + ks only", ("psi", "ks"))):
        print(f"DriftMonitor.observe, {name}: {throughput(detectors):,.0f} predictions/s")


@pytest.mark.benchmark
def test_drift_detectors() -> None:
    report()


if __name__ == "__main__":
    report()

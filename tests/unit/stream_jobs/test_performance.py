from __future__ import annotations

import numpy as np
import pytest

from stream_jobs.drift.joins import Outcome
from stream_jobs.drift.performance import RollingPerformance, roc_auc


def outcomes(n: int, error_rate: float, seed: int, start: int = 0) -> list[Outcome]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        actual = int(rng.random() < 0.3)
        wrong = rng.random() < error_rate
        predicted = 1 - actual if wrong else actual
        out.append(Outcome(f"e{start + i}", 0.8 if predicted else 0.2, predicted, actual, start + i, "1"))
    return out


def test_metrics_over_the_last_outcomes() -> None:
    perf = RollingPerformance(size=4)
    perf.add([Outcome("a", 0.9, 1, 1, 0, "1"), Outcome("b", 0.6, 1, 0, 1, "1"), Outcome("c", 0.1, 0, 0, 2, "1")])
    assert perf.accuracy == pytest.approx(2 / 3)
    assert perf.precision == pytest.approx(0.5)
    assert perf.roc_auc == pytest.approx(1.0)
    assert roc_auc(np.array([0.1, 0.2]), np.array([0.0, 0.0])) is None


def test_adwin_on_errors_flags_a_rise_in_error_only() -> None:
    perf = RollingPerformance(size=2000, adwin_delta=1e-4)
    stationary = [f for i in range(0, 20_000, 500) for f in perf.add(outcomes(500, 0.05, seed=i, start=i))]
    assert not any(f.drifted for f in stationary)
    worse = [f for i in range(20_000, 22_000, 100) for f in perf.add(outcomes(100, 0.25, seed=i, start=i))]
    detected = [i for i, f in enumerate(worse) if f.drifted]
    assert detected and detected[0] < 5  # within 500 outcomes
    first = worse[detected[0]]
    assert first.kind == "performance" and first.severity == "critical" and first.statistic > first.threshold
    better = [f for i in range(22_000, 30_000, 500) for f in perf.add(outcomes(500, 0.01, seed=i, start=i))]
    assert not any(f.drifted for f in better)

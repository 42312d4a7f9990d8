from __future__ import annotations

import numpy as np
import pytest

from stream_jobs.drift.joins import Outcome
from stream_jobs.drift.performance import RollingPerformance, change_point, roc_auc


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


def test_the_change_point_is_where_the_rate_shifts() -> None:
    rng = np.random.default_rng(3)
    errors = np.concatenate([rng.random(1800) < 0.02, rng.random(200) < 0.2])
    assert abs(change_point(errors) - 1800) <= 20
    assert change_point(np.array([0.0])) == 0
    assert change_point(np.zeros(50)) in range(1, 50)  # no change: any split is as likely; still an index


def test_a_rise_is_dated_where_it_began_not_where_adwin_still_reaches_back() -> None:
    perf = RollingPerformance(size=2000, adwin_delta=1e-4)
    for i in range(0, 10_000, 500):
        perf.add(outcomes(500, 0.02, seed=i, start=i))
    # one large batch, as a monitor that was behind joins it: 1,000 outcomes from before the rise, then the rise
    findings = perf.add(outcomes(1000, 0.02, seed=99, start=10_000) + outcomes(1000, 0.25, seed=98, start=11_000))
    (finding,) = findings
    assert finding.drifted
    changed = finding.evidence["changed_at"]
    assert isinstance(changed, float) and 10_950 <= changed <= 11_050, changed

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import ks_2samp

from stream_jobs.drift.statistics import (
    ks_critical,
    severity_for_psi,
    standardized_mean,
    window_ks,
    window_psi,
)
from training.profile import Binned, histogram, psi


def test_window_psi_is_the_profile_psi_of_the_same_values() -> None:
    ref = Binned(cuts=[-1.0, 0.0, 1.0], proportions=[0.15, 0.35, 0.35, 0.15])
    values = np.random.default_rng(0).normal(0.5, 1, 500)
    counts = np.bincount(np.searchsorted([-1.0, 0.0, 1.0], values, side="left"), minlength=4)
    assert window_psi(ref, counts) == pytest.approx(psi(ref.proportions, histogram(values, ref.edges)))
    assert window_psi(ref, np.zeros(4)) == 0.0


def test_ks_rejects_exactly_when_the_distance_passes_the_critical_value() -> None:
    rng = np.random.default_rng(1)
    ref = Binned(cuts=[0.0], proportions=[0.5, 0.5], sample=sorted(rng.normal(size=1000).tolist()))
    for shift in (0.0, 0.5):
        result = window_ks(ref, rng.normal(shift, 1, 400), alpha=1e-4)
        assert result is not None
        assert (result.statistic > result.critical) == (result.p_value < 1e-4)
    assert window_ks(ref, np.array([]), 0.01) is None
    assert ks_critical(0.05, 100, 100) == pytest.approx(1.358 * math.sqrt(2 / 100), rel=1e-3)
    a, b = rng.normal(size=300), rng.normal(size=300)
    assert window_ks(Binned(cuts=[0.0], proportions=[0.5, 0.5], sample=sorted(b.tolist())), a, 0.01).statistic == (  # type: ignore[union-attr]
        pytest.approx(ks_2samp(a, b).statistic)
    )


def test_standardized_mean_and_severity() -> None:
    ref = Binned(cuts=[0.0], proportions=[0.5, 0.5], mean=10.0, std=2.0)
    assert standardized_mean(ref, 11.0, 100) == pytest.approx(5.0)
    assert standardized_mean(ref, math.nan, 100) is None
    assert standardized_mean(Binned(cuts=[0.0], proportions=[0.5, 0.5]), 1.0, 10) is None
    assert [severity_for_psi(v, 0.1, 0.25) for v in (0.05, 0.2, 0.3)] == ["info", "warning", "critical"]

"""``stream_jobs.drift.kswin.KSWIN`` decides exactly as river's KSWIN, update by update."""

from __future__ import annotations

import random

import numpy as np
import pytest
from river import drift
from scipy import stats

from stream_jobs.drift.kswin import KSWIN, ks_distance, min_rejecting_distance


def streams() -> list[list[float]]:
    rng = np.random.default_rng(0)
    abrupt = random.Random(12345)
    return [
        rng.normal(0, 1, 2000).tolist() + rng.normal(0.6, 1, 1000).tolist(),  # a mean shift
        rng.normal(0, 1, 1500).tolist() + rng.normal(0, 2.5, 1000).tolist(),  # a variance change, same mean
        rng.integers(0, 3, 2000).astype(float).tolist() + rng.integers(1, 4, 1000).astype(float).tolist(),  # ties
        [float(v) for v in abrupt.choices([0, 1], k=1000) + abrupt.choices(range(4, 8), k=1000)],  # river's example
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"alpha": 0.005, "seed": 1},
        {"alpha": 1e-4, "window_size": 100, "stat_size": 30, "seed": 42},
        {"alpha": 1e-6, "window_size": 300, "stat_size": 100, "seed": 3},
    ],
)
def test_same_decisions_as_river_on_every_update(params: dict) -> None:
    detections = 0
    for stream in streams():
        ours, river = KSWIN(**params), drift.KSWIN(**params)
        for x in stream:
            ours.update(x)
            river.update(x)
            assert ours.drift_detected == river.drift_detected
            detections += river.drift_detected
    assert detections >= 2  # the comparison saw detections, not only quiet updates


def test_distance_is_scipys_statistic_and_the_threshold_rejects_exactly_there() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 30).tolist(), rng.normal(0.3, 1, 30).tolist()
    assert ks_distance(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic)
    d = min_rejecting_distance(30, 1e-4)
    x = np.arange(30.0)
    k = round(d * 30)
    assert stats.ks_2samp(x, x + k - 0.5).pvalue <= 1e-4 < stats.ks_2samp(x, x + k - 1.5).pvalue

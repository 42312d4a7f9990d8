from __future__ import annotations

import numpy as np
import pytest

from stream_jobs.drift.windows import WindowAccumulator
from training.profile import Binned, FeatureProfile, ReferenceProfile


def profile() -> ReferenceProfile:
    feature = FeatureProfile(cuts=[0.0, 1.0], proportions=[0.2, 0.5, 0.3], mean=0.5, std=1.0, name="x")
    return ReferenceProfile(["x"], [feature], Binned(cuts=[0.5], proportions=[0.5, 0.5]), rows=10)


def test_a_window_closes_at_its_size_and_counts_in_the_reference_bins() -> None:
    acc = WindowAccumulator(profile(), size=4, max_ms=10_000)
    ts = np.arange(6, dtype=np.int64) * 10
    X = np.array([[-1.0], [0.0], [0.5], [np.nan], [2.0], [3.0]])
    closed = acc.add(ts, X, np.array([0.1, 0.2, 0.7, 0.9, 0.4, 0.6]))
    assert len(closed) == 1
    w = closed[0]
    assert (w.index, w.start, w.end, w.count) == (0, 0, 30, 4)
    (x,) = w.features
    assert x.counts.tolist() == [2, 1, 0]  # right-closed bins: 0.0 falls in (-inf, 0]
    assert x.missing == 1 and x.mean == pytest.approx(-0.5 / 3)
    assert w.score.counts.tolist() == [2, 2] and sorted(w.score.sample.tolist()) == [0.1, 0.2, 0.7, 0.9]
    assert acc.count == 2  # the rest stays open


def test_event_time_closes_a_window_and_the_late_prediction_opens_the_next() -> None:
    acc = WindowAccumulator(profile(), size=100, max_ms=1000)
    closed = acc.add(np.array([0, 500, 999, 1000, 1500]), np.zeros((5, 1)), np.zeros(5))
    assert [(w.start, w.end, w.count) for w in closed] == [(0, 999, 3)]
    assert (acc.start, acc.count) == (1000, 2)


def test_batches_split_anywhere_give_the_same_windows() -> None:
    rng = np.random.default_rng(0)
    ts, X, s = np.arange(1000) * 3, rng.normal(size=(1000, 1)), rng.random(1000)
    whole = WindowAccumulator(profile(), size=128, max_ms=50)
    pieces = WindowAccumulator(profile(), size=128, max_ms=50)
    a = whole.add(ts, X, s)
    b = [w for i in range(0, 1000, 37) for w in pieces.add(ts[i : i + 37], X[i : i + 37], s[i : i + 37])]
    assert [(w.start, w.end, w.count, w.features[0].counts.tolist()) for w in a] == [
        (w.start, w.end, w.count, w.features[0].counts.tolist()) for w in b
    ]


def test_the_sample_is_bounded() -> None:
    acc = WindowAccumulator(profile(), size=5000, max_ms=10**9, sample_size=100)
    (w,) = acc.add(np.arange(5000), np.random.default_rng(1).normal(size=(5000, 1)), np.zeros(5000))
    assert len(w.features[0].sample) == 100 and w.features[0].n == 5000


def test_matrix_puts_features_in_reference_order_with_nan_for_missing() -> None:
    acc = WindowAccumulator(profile(), size=5, max_ms=10)
    m = acc.matrix([{"x": 1.0}, {"x": None}, {}])
    assert m.shape == (3, 1) and m[0, 0] == 1.0 and np.isnan(m[1:, 0]).all()

from __future__ import annotations

import pytest

from serving.routing import bucket, canary_mask

KEYS = [f"c{i:05d}" for i in range(20_000)]


def test_buckets_are_stable_and_spread_evenly() -> None:
    assert bucket("c00042") == bucket("c00042")
    assert bucket("c00042") == pytest.approx(0.199410, abs=1e-6)  # golden: no per-process salt, ever
    values = [bucket(k) for k in KEYS]
    assert all(0.0 <= v < 1.0 for v in values)
    assert sum(v < 0.1 for v in values) / len(values) == pytest.approx(0.1, abs=0.01)


def test_canary_share_picks_that_share_and_growing_it_only_adds_entities() -> None:
    small, large = canary_mask(KEYS, 0.05), canary_mask(KEYS, 0.2)
    assert small.mean() == pytest.approx(0.05, abs=0.01) and large.mean() == pytest.approx(0.2, abs=0.015)
    assert (large | small).tolist() == large.tolist()  # small is a subset of large
    assert not canary_mask(KEYS, 0.0).any() and canary_mask(KEYS, 1.0).all()
    assert canary_mask([], 0.5).shape == (0,)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        canary_mask(KEYS, 1.5)

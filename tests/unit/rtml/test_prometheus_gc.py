"""Garbage collection pauses are timed per generation."""

from __future__ import annotations

import gc

from prometheus_client import REGISTRY

from rtml.prometheus import track_gc_pauses


def _count(generation: int) -> float:
    value = REGISTRY.get_sample_value(
        "rtml_gc_pause_seconds_count", {"component": "unit-test", "generation": str(generation)}
    )
    return value or 0.0


def test_each_collection_is_timed_under_its_generation() -> None:
    track_gc_pauses("unit-test")
    track_gc_pauses("other")  # once per process: not counted twice, not under another name
    before = [_count(g) for g in range(3)]
    gc.collect(0)
    gc.collect(2)
    gc.collect(2)
    after = [_count(g) for g in range(3)]
    assert after[0] >= before[0] + 1 and after[2] >= before[2] + 2
    total = REGISTRY.get_sample_value("rtml_gc_pause_seconds_sum", {"component": "unit-test", "generation": "2"})
    assert total is not None and total > 0
    assert REGISTRY.get_sample_value("rtml_gc_pause_seconds_count", {"component": "other", "generation": "2"}) is None

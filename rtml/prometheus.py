"""Helpers over prometheus_client shared by the services."""

from __future__ import annotations

import gc
import time
from typing import Any

import numpy as np
from prometheus_client import Histogram


def observe_many(child: Any, values: np.ndarray) -> None:
    """``child.observe(v)`` for every ``v``, in one pass: a batch of 256 predictions costs one bucket
    search instead of 256 Python calls. Uses prometheus_client's histogram internals (``_upper_bounds``,
    ``_buckets``, ``_sum``, the same fields ``observe`` updates; a unit test holds the two equal) and
    falls back to ``observe`` if they ever change."""
    bounds, buckets, total = (getattr(child, name, None) for name in ("_upper_bounds", "_buckets", "_sum"))
    if bounds is None or buckets is None or total is None:
        for value in values.tolist():
            child.observe(value)
        return
    if not len(values):
        return
    counts = np.bincount(np.searchsorted(bounds, values, side="left"), minlength=len(bounds))
    total.inc(float(values.sum()))
    for i in np.flatnonzero(counts).tolist():
        buckets[i].inc(int(counts[i]))


GC_PAUSE = Histogram(
    "rtml_gc_pause_seconds",
    "Seconds each Python garbage collection stopped the process, by generation",
    ["component", "generation"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
_gc_tracked: list[str] = []


def track_gc_pauses(component: str) -> None:
    """Time every garbage collection of this process into ``GC_PAUSE`` (a collection stops every thread of
    the interpreter: on a latency path it would be a tail). Once per process: later calls do nothing."""
    if _gc_tracked:
        return
    children = [GC_PAUSE.labels(component, str(g)) for g in range(3)]
    started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            children[info["generation"]].observe(time.perf_counter() - started[0])

    gc.callbacks.append(on_gc)
    _gc_tracked.append(component)

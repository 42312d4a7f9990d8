from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry, Histogram

from rtml.prometheus import observe_many
from serving.metrics import LATENCY_BUCKETS


def test_observe_many_counts_like_observe_one_by_one() -> None:
    registry = CollectorRegistry()
    one = Histogram("one_by_one", "d", ["m"], buckets=LATENCY_BUCKETS, registry=registry)
    many = Histogram("many", "d", ["m"], buckets=LATENCY_BUCKETS, registry=registry)
    values = np.concatenate([np.random.default_rng(0).exponential(0.01, 500), [0.001, 0.0025, 100.0, 0.0]])
    for v in values.tolist():
        one.labels("x").observe(v)
    observe_many(many.labels("x"), values[:200])
    observe_many(many.labels("x"), values[200:])
    observe_many(many.labels("x"), np.zeros(0))

    def samples(name: str) -> dict[str, float]:
        return {
            f"{s.name.removeprefix(name)}{s.labels.get('le', '')}": s.value
            for metric in registry.collect()
            if metric.name == name
            for s in metric.samples
            if not s.name.endswith("_created")
        }

    a, b = samples("one_by_one"), samples("many")
    assert a.keys() == b.keys() and a["_count"] == len(values)
    for key in a:
        assert np.isclose(a[key], b[key]), key

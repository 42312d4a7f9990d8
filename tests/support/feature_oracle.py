"""A naive Python oracle for feature views: the semantics of feature_pipelines/definitions.py, spelled
out with loops, to check the Flink job (and later the offline backfill) against."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from feature_pipelines.definitions import Aggregation, FeatureView


def _aggregate(agg: Aggregation, events: list[Any]) -> float | int | None:
    if agg.function == "count":
        return len(events)
    values = [v for e in events if (v := getattr(e, agg.column)) is not None]  # type: ignore[arg-type]  # SQL skips NULL
    if agg.function == "sum":
        return sum(values) if values else 0
    if agg.function == "count_distinct":
        return len(set(values))
    if not values:
        return None
    if agg.function == "mean":
        return sum(values) / len(values)
    if agg.function == "min":
        return min(values)
    if agg.function == "max":
        return max(values)
    if agg.function == "stddev":
        mean = sum(values) / len(values)
        return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    if agg.function == "last":
        return max((e for e in events if getattr(e, agg.column) is not None), key=lambda e: e.ts).__getattribute__(
            agg.column  # type: ignore[arg-type]
        )
    raise ValueError(agg.function)


def expected_rows(view: FeatureView, events: list[Any]) -> dict[tuple[str, int], dict[str, Any]]:
    """{(entity_id, window_end): {feature: value}} for every window end with data in the largest window."""
    by_entity: dict[str, list[Any]] = defaultdict(list)
    for e in events:
        by_entity[getattr(e, view.entity.join_key)].append(e)
    slide, longest = view.slide_ms, view.max_window.size_ms
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for entity, evs in by_entity.items():
        ends: set[int] = set()
        for e in evs:
            first = (e.ts // slide + 1) * slide  # the first window end after the event
            ends.update(range(first, e.ts + longest + 1, slide))
        for end in ends:
            values = {}
            for f in view.features:
                inside = [e for e in evs if end - f.window.size_ms <= e.ts < end]
                values[f.name] = _aggregate(f.aggregation, inside)
            if any(end - longest <= e.ts < end for e in evs):
                rows[(entity, end)] = values
    return rows

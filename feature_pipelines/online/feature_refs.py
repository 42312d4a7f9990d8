"""Feast-style feature references (``"view:feature"``) and the result columns built from them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from feature_pipelines.definitions import AnyView

# Per view, in request order: (feature name, column name in the result).
Requested = list[tuple[AnyView, list[tuple[str, str]]]]


def parse_feature_refs(
    refs: Sequence[str], views: Mapping[str, AnyView], *, full_feature_names: bool = False
) -> Requested:
    """Group ``refs`` by view, checking that every view and feature exists and no column name repeats."""
    by_view: dict[str, tuple[AnyView, list[tuple[str, str]]]] = {}
    columns: dict[str, str] = {}
    for ref in refs:
        view_name, sep, feature = ref.partition(":")
        if not sep or not view_name or not feature:
            raise ValueError(f"feature reference {ref!r} must read 'view:feature', e.g. 'customer_txn_stats:count_5m'")
        if view_name not in views:
            raise KeyError(f"no feature view {view_name!r} (in {ref!r}); defined: {', '.join(views)}")
        view = views[view_name]
        if feature not in view.feature_names:
            raise ValueError(f"view {view_name} has no feature {feature!r}; it has: {', '.join(view.feature_names)}")
        column = f"{view_name}__{feature}" if full_feature_names else feature
        if column in columns:
            hint = "" if full_feature_names else "; pass full_feature_names=True to name columns view__feature"
            raise ValueError(f"{ref!r} and {columns[column]!r} both give column {column!r}{hint}")
        columns[column] = ref
        by_view.setdefault(view_name, (view, []))[1].append((feature, column))
    return list(by_view.values())


def feature_columns(
    view: AnyView, values: np.ndarray, found: np.ndarray, wanted: list[tuple[str, str]]
) -> dict[str, list[Any]]:
    """Result columns of ``view`` from its decoded arrays: None for missing or null, int for counts."""
    index = {name: i for i, name in enumerate(view.feature_names)}
    dtypes = {f.name: f.dtype for f in view.features}
    present = found.tolist()
    out: dict[str, list[Any]] = {}
    for feature, column in wanted:
        cast = int if dtypes[feature] == "int64" else float
        out[column] = [
            None if not ok or math.isnan(v) else cast(v)
            for v, ok in zip(values[:, index[feature]].tolist(), present, strict=True)
        ]
    return out

"""What a model consumes: request-time fields of the event plus feature views, in one fixed order.

A ``FeatureService`` names the model's inputs once. The training set (``training_set``), the ONNX
model's input columns and the scorer's feature matrix all follow ``feature_names``: the request
features first, then each view's features as ``<view>__<feature>``.

A ``RequestFeature`` is computed from the event itself at scoring time. It is declared twice in one
place, as a DuckDB expression (training sets) and as a Python function (the scorer); a unit test
holds the two equal on generated events.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from feature_pipelines.definitions import AnyView, ChangelogView, FeatureView, Source

SEPARATOR = "__"


@dataclass(frozen=True)
class RequestFeature:
    """A float computed from one event: ``sql`` over the event's columns, ``python`` over the record."""

    name: str
    sql: str
    python: Callable[[Any], float]
    description: str = ""


@dataclass(frozen=True)
class FeatureService:
    """``views``: windowed views over the scored event's source (at least one: their source is the event the
    model scores), and changelog views keyed by one of the event's fields (the latest attributes of that entity's
    row in a database table, through CDC)."""

    name: str
    views: tuple[AnyView, ...]
    request: tuple[RequestFeature, ...] = ()
    label: str = "transactions"  # labels.<label> holds the ground truth
    description: str = ""

    def __post_init__(self) -> None:
        windowed = [v for v in self.views if isinstance(v, FeatureView)]
        if not windowed:
            raise ValueError(f"service {self.name}: needs a windowed view; its source is the event the model scores")
        sources = {v.source.topic for v in windowed}
        if len(sources) > 1:
            raise ValueError(f"service {self.name}: views read different sources {sorted(sources)}; one event type")
        fields = set(windowed[0].source.field_names)
        for view in self.views:
            if isinstance(view, ChangelogView) and view.entity.join_key not in fields:
                raise ValueError(
                    f"service {self.name}: changelog view {view.name} is keyed by {view.entity.join_key!r}, "
                    f"not a field of {windowed[0].source.name}"
                )
        names = self.feature_names
        if len(set(names)) != len(names):
            raise ValueError(f"service {self.name}: duplicate feature names")

    @property
    def source(self) -> Source:
        """The scored event's source (the windowed views')."""
        return next(v.source for v in self.views if isinstance(v, FeatureView))

    @functools.cached_property  # a frozen service: built once
    def feature_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.request) + tuple(
            column_name(view, f) for view in self.views for f in view.feature_names
        )

    @property
    def fingerprint(self) -> str:
        """Hash of everything that changes the model's inputs: view fingerprints, request SQL, order."""
        text = json.dumps(
            {
                "views": [[v.name, v.fingerprint, v.ttl.total_seconds() if v.ttl else None] for v in self.views],
                "request": [[r.name, r.sql] for r in self.request],
                "order": self.feature_names,
            },
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def defaults(self) -> dict[str, float]:
        """Value of each view feature when its entity has no row within the view's TTL: 0 for counts,
        sums and distinct counts (nothing happened), NaN for the rest (the model imputes them), and for every
        attribute of a changelog view (an entity without a row in the table)."""
        return {
            column_name(view, name): 0.0 if zero else float("nan")
            for view in self.views
            for name, zero in zip(view.feature_names, zero_when_empty(view), strict=True)
        }


def zero_when_empty(view: AnyView) -> tuple[bool, ...]:
    """Per feature of ``view``: is its value 0 (not unknown) when the entity has no row?"""
    if isinstance(view, ChangelogView):
        return tuple(False for _ in view.feature_names)
    return tuple(f.aggregation.zero_when_empty for f in view.features)


def ttl_ms(view: AnyView) -> int | None:
    """How long a row of ``view`` stands for its entity (None: until the next one)."""
    return None if view.ttl is None else int(view.ttl.total_seconds() * 1000)


def column_name(view: AnyView, feature: str) -> str:
    return f"{view.name}{SEPARATOR}{feature}"

"""What a model consumes: request-time fields of the event plus feature views, in one fixed order.

A ``FeatureService`` names the model's inputs once. The training set (``training_set``), the ONNX
model's input columns and the scorer's feature matrix all follow ``feature_names``: the request
features first, then each view's features as ``<view>__<feature>``.

A ``RequestFeature`` is computed from the event itself at scoring time. It is declared twice in one
place, as a DuckDB expression (training sets) and as a Python function (the scorer); a unit test
holds the two equal on generated events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from feature_pipelines.definitions import FeatureView

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
    name: str
    views: tuple[FeatureView, ...]
    request: tuple[RequestFeature, ...] = ()
    label: str = "transactions"  # labels.<label> holds the ground truth
    description: str = ""

    def __post_init__(self) -> None:
        sources = {v.source.topic for v in self.views}
        if len(sources) > 1:
            raise ValueError(f"service {self.name}: views read different sources {sorted(sources)}; one event type")
        names = self.feature_names
        if len(set(names)) != len(names):
            raise ValueError(f"service {self.name}: duplicate feature names")

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.request) + tuple(
            column_name(view, f) for view in self.views for f in view.feature_names
        )

    @property
    def fingerprint(self) -> str:
        """Hash of everything that changes the model's inputs: view fingerprints, request SQL, order."""
        text = json.dumps(
            {
                "views": [[v.name, v.fingerprint, v.ttl.total_seconds()] for v in self.views],
                "request": [[r.name, r.sql] for r in self.request],
                "order": self.feature_names,
            },
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def defaults(self) -> dict[str, float]:
        """Value of each view feature when its entity has no row within the view's TTL: 0 for counts,
        sums and distinct counts (nothing happened), NaN for the rest (the model imputes them)."""
        return {
            column_name(view, f.name): 0.0 if f.aggregation.zero_when_empty else float("nan")
            for view in self.views
            for f in view.features
        }


def column_name(view: FeatureView, feature: str) -> str:
    return f"{view.name}{SEPARATOR}{feature}"

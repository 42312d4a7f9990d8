"""Prediction records for a scored batch: one per event, naming the version that scored it. Pure.

``PredictionWriter`` writes them straight to their JSON bytes, byte for byte what encoding a ``Prediction``
gives, without building a ``Prediction`` and a feature dict per event: at saturation those took a fifth of
the scorer's time (decision 0009). Its wire types mirror ``Prediction`` with ``features`` as a struct of the
service's feature names, whose keys are encoded once; a NaN feature is written as ``null``, as ``None`` is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from schemas.errors import RuleViolation
from schemas.fields import require_finite
from schemas.prediction import Prediction
from serving.assembly import FeatureMatrix
from serving.batching import Event

DEFAULT_THRESHOLD = 0.5  # for a model that carries no threshold of its own
WIRE_FIELDS = (  # Prediction's fields, in the order the writer fills them
    "event_id", "model", "version", "score", "label", "features", "ts", "scored_at", "latency_ms", "shadow",
    "features_missing",
)  # fmt: skip


@dataclass(frozen=True)
class Scored:
    """Which rows of a batch one model version scored, its scores for them (in row order), and the score from
    which a row is labelled positive."""

    version: str
    rows: np.ndarray  # int indices into the batch's events
    scores: np.ndarray  # float32, one per row
    threshold: float = DEFAULT_THRESHOLD


@dataclass(frozen=True)
class Written:
    """A batch's predictions as ``(event_id, JSON)`` in event order, and the events that cannot have one
    (index -> why: a non-finite score means the model is broken for that input; the event is dead-lettered)."""

    records: list[tuple[str, bytes]]
    failed: dict[int, BaseException]

    def __len__(self) -> int:
        return len(self.records)


class PredictionWriter:
    """Writes the predictions of one feature service's batches (see the module's docstring)."""

    def __init__(self, feature_names: Sequence[str]) -> None:
        if Prediction.__struct_fields__ != WIRE_FIELDS:
            raise RuntimeError(f"Prediction's fields changed to {Prediction.__struct_fields__}: update WIRE_FIELDS")
        self.feature_names = tuple(feature_names)
        self._features = msgspec.defstruct("Features", [(name, Any) for name in self.feature_names])
        self._wire = msgspec.defstruct("WirePrediction", [(name, Any) for name in WIRE_FIELDS])
        self._encode = msgspec.json.Encoder().encode

    def write(
        self,
        events: Sequence[Event],
        matrix: FeatureMatrix,
        scored: Sequence[Scored],
        *,
        model: str,
        scored_at_ms: int,
        latency_ms: float | None,
        shadow: bool = False,
    ) -> Written:
        """One prediction per event that a part of ``scored`` covers, labelled at that part's threshold."""
        if matrix.feature_names != self.feature_names:
            raise ValueError(f"a matrix of {matrix.feature_names} for a writer of {self.feature_names}")
        require_finite("latency_ms", latency_ms)
        by_row: dict[int, tuple[str, float, float]] = {}
        for part in scored:
            for row, score in zip(part.rows.tolist(), part.scores.tolist(), strict=True):
                by_row[row] = (part.version, score, part.threshold)
        values = matrix.values.tolist()
        wire, features, encode = self._wire, self._features, self._encode
        records: list[tuple[str, bytes]] = []
        failed: dict[int, BaseException] = {}
        for i, event in enumerate(events):
            if i not in by_row:
                continue
            version, score, threshold = by_row[i]
            try:
                require_finite("score", score)
            except RuleViolation as exc:
                failed[i] = ValueError(f"model {model} version {version} gave score {score!r}: {exc}")
                continue
            record = event.record
            prediction = wire(
                record.event_id, model, version, score, 1 if score >= threshold else 0, features(*values[i]),
                record.ts, scored_at_ms, latency_ms, shadow, matrix.missing_views(i),
            )  # fmt: skip
            records.append((record.event_id, encode(prediction)))
        return Written(records, failed)

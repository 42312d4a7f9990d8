"""Prediction records for a scored batch: one per event, naming the version that scored it. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from schemas.errors import RuleViolation
from schemas.prediction import Prediction
from serving.assembly import FeatureMatrix
from serving.batching import Event

DEFAULT_THRESHOLD = 0.5  # for a model that carries no threshold of its own


@dataclass(frozen=True)
class Scored:
    """Which rows of a batch one model version scored, its scores for them (in row order), and the score from
    which a row is labelled positive."""

    version: str
    rows: np.ndarray  # int indices into the batch's events
    scores: np.ndarray  # float32, one per row
    threshold: float = DEFAULT_THRESHOLD


def build_predictions(
    events: Sequence[Event],
    matrix: FeatureMatrix,
    scored: Sequence[Scored],
    *,
    model: str,
    scored_at_ms: int,
    latency_ms: float | None,
    shadow: bool = False,
) -> tuple[list[Prediction], dict[int, BaseException]]:
    """Predictions in event order, each labelled at its version's threshold, and the events that cannot have one
    (a non-finite score: the model is broken for that input, and the event goes to the dead-letter topic with that
    reason)."""
    by_row: dict[int, tuple[str, float, float]] = {}
    for part in scored:
        for row, score in zip(part.rows.tolist(), part.scores.tolist(), strict=True):
            by_row[row] = (part.version, score, part.threshold)
    out: list[Prediction] = []
    failed: dict[int, BaseException] = {}
    for i, event in enumerate(events):
        if i not in by_row:
            continue
        version, score, threshold = by_row[i]
        record = event.record
        try:
            out.append(
                Prediction(
                    event_id=record.event_id,
                    model=model,
                    version=version,
                    score=score,
                    label=1 if score >= threshold else 0,
                    features=matrix.features(i),
                    ts=record.ts,
                    scored_at=scored_at_ms,
                    latency_ms=latency_ms,
                    shadow=shadow,
                    features_missing=matrix.missing_views(i),
                )
            )
        except RuleViolation as exc:
            failed[i] = ValueError(f"model {model} version {version} gave score {score!r}: {exc}")
    return out, failed

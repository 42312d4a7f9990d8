from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from feature_pipelines.online.memory import InMemoryOnlineStore
from feature_pipelines.repository import customer_txn_stats, get_service
from schemas.feature_row import FeatureRow
from schemas.prediction import Prediction
from schemas.registry import codec_for
from serving.assembly import FeatureAssembler, FeatureMatrix
from serving.batching import Event
from serving.predictions import PredictionWriter, Scored
from tests.unit.serving.conftest import T0, transaction

SERVICE = get_service("fraud")
CODEC = codec_for("predictions.fraud")


def batch(n: int, store: InMemoryOnlineStore | None = None) -> tuple[list[Event], FeatureMatrix]:
    records = [transaction(i, customer=f"c{i % 3}") for i in range(n)]
    events = [Event(r, None, None, "events.transactions", 0, i, 0) for i, r in enumerate(records)]
    assembler = FeatureAssembler(SERVICE)
    store = store or InMemoryOnlineStore()
    return events, assembler.assemble(
        records, store.get_many((lookups := assembler.lookups(records)).requests), lookups
    )


def test_one_prediction_per_scored_event_with_version_label_features_and_missing_views() -> None:
    events, matrix = batch(4)
    scored = [
        Scored("7", np.array([0, 2]), np.array([0.2, 0.5], np.float32)),
        Scored("8", np.array([3]), np.array([float("nan")], np.float32)),
        Scored("9", np.array([1]), np.array([0.2], np.float32), threshold=0.15),  # a version's own threshold
    ]
    written = PredictionWriter(SERVICE.feature_names).write(
        events, matrix, scored, model="fraud", scored_at_ms=123, latency_ms=1.5
    )
    predictions = [CODEC.decode(value) for _, value in written.records]
    assert [key for key, _ in written.records] == [p.event_id for p in predictions] == ["e0", "e1", "e2"]
    assert [(p.version, p.label) for p in predictions] == [("7", 0), ("9", 1), ("7", 1)]
    first = predictions[0]
    assert first.ts == events[0].record.ts and first.scored_at == 123 and first.latency_ms == 1.5 and not first.shadow
    assert first.features_missing == [
        "customer_txn_stats",
        "merchant_txn_stats",
        "customer_profile",
        "customer_limit_usage",
    ]
    assert list(first.features) == list(SERVICE.feature_names) and first.features["amount"] == 10.0
    assert first.features["customer_txn_stats__count_5m"] == 0.0
    assert first.features["customer_txn_stats__mean_amount_5m"] is None  # NaN: missing, written as null
    assert list(written.failed) == [3] and "gave score nan" in str(written.failed[3])

    legacy = CODEC.decode(
        b'{"event_id":"e","model":"m","version":"1","score":0.1,"label":0,"features":{},"ts":1,"scored_at":2}'
    )
    assert isinstance(legacy, Prediction) and legacy.features_missing == []


def reference(
    events: list[Event], matrix: FeatureMatrix, part: Scored, *, latency_ms: float | None, shadow: bool
) -> list[bytes]:
    """The plain way: a ``Prediction`` with a feature dict per event, encoded by the topic's codec."""
    out = []
    for row, score in zip(part.rows.tolist(), part.scores.tolist(), strict=True):
        values = matrix.values[row].tolist()
        prediction = Prediction(
            event_id=events[row].record.event_id,
            model="fraud",
            version=part.version,
            score=score,
            label=int(score >= part.threshold),
            features={n: None if math.isnan(v) else v for n, v in zip(SERVICE.feature_names, values, strict=True)},
            ts=events[row].record.ts,
            scored_at=T0,
            latency_ms=latency_ms,
            shadow=shadow,
            features_missing=[v for v, gone in zip(matrix.view_names, matrix.missing[row], strict=True) if gone],
        )
        out.append(CODEC.encode(prediction))
    return out


@pytest.mark.parametrize("shadow", [False, True])
def test_the_bytes_are_those_of_the_encoded_prediction(shadow: bool) -> None:
    store = InMemoryOnlineStore()
    end = T0 - 60_000
    store.write(
        customer_txn_stats,
        [FeatureRow(customer_txn_stats.name, "c1", end - 60_000, end, {"count_5m": 3, "mean_amount_1h": 0.1 + 0.2})],
    )
    events, matrix = batch(9, store)
    rows = np.arange(9)
    scores = np.random.default_rng(0).random(9).astype(np.float32)
    part = Scored("12", rows, scores, threshold=0.4)
    latency_ms = None if shadow else 0.75
    written = PredictionWriter(SERVICE.feature_names).write(
        events, matrix, [part], model="fraud", scored_at_ms=T0, latency_ms=latency_ms, shadow=shadow
    )
    assert written.failed == {}
    assert [value for _, value in written.records] == reference(
        events, matrix, part, latency_ms=latency_ms, shadow=shadow
    )
    assert msgspec.json.decode(written.records[1][1])["features"]["customer_txn_stats__mean_amount_1h"] == 0.1 + 0.2


def test_a_matrix_of_other_features_is_refused() -> None:
    events, matrix = batch(1)
    writer = PredictionWriter(SERVICE.feature_names[:-1])
    with pytest.raises(ValueError, match="for a writer of"):
        writer.write(events, matrix, [], model="fraud", scored_at_ms=1, latency_ms=None)

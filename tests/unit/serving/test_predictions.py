from __future__ import annotations

import numpy as np

from feature_pipelines.online.memory import InMemoryOnlineStore
from feature_pipelines.repository import get_service
from schemas.prediction import Prediction
from schemas.registry import codec_for
from serving.assembly import FeatureAssembler
from serving.batching import Event
from serving.predictions import Scored, build_predictions
from tests.unit.serving.conftest import transaction

SERVICE = get_service("fraud")


def test_one_prediction_per_scored_event_with_version_label_features_and_missing_views() -> None:
    records = [transaction(i, customer=f"c{i}") for i in range(4)]
    events = [Event(r, None, None, "events.transactions", 0, i, 0) for i, r in enumerate(records)]
    assembler = FeatureAssembler(SERVICE)
    store = InMemoryOnlineStore()
    matrix = assembler.assemble(records, store.get_many(assembler.lookups(records)))
    scored = [
        Scored("7", np.array([0, 2]), np.array([0.2, 0.5], np.float32)),
        Scored("8", np.array([3]), np.array([float("nan")], np.float32)),
        Scored("9", np.array([1]), np.array([0.2], np.float32), threshold=0.15),  # a version's own threshold
    ]
    predictions, failed = build_predictions(events, matrix, scored, model="fraud", scored_at_ms=123, latency_ms=1.5)
    assert [(p.event_id, p.version, p.label) for p in predictions] == [("e0", "7", 0), ("e1", "9", 1), ("e2", "7", 1)]
    first = predictions[0]
    assert first.ts == records[0].ts and first.scored_at == 123 and first.latency_ms == 1.5 and not first.shadow
    assert first.features_missing == [
        "customer_txn_stats",
        "merchant_txn_stats",
        "customer_profile",
        "customer_limit_usage",
    ]
    assert list(first.features) == list(SERVICE.feature_names) and first.features["amount"] == 10.0
    assert first.features["customer_txn_stats__count_5m"] == 0.0
    assert first.features["customer_txn_stats__mean_amount_5m"] is None
    assert list(failed) == [3] and "gave score nan" in str(failed[3])

    codec = codec_for("predictions.fraud")
    assert codec.decode(codec.encode(first)) == first
    legacy = codec.decode(
        b'{"event_id":"e","model":"m","version":"1","score":0.1,"label":0,"features":{},"ts":1,"scored_at":2}'
    )
    assert isinstance(legacy, Prediction) and legacy.features_missing == []

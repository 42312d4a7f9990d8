"""Generated records through the real broker and back through the schemas, unchanged."""

from __future__ import annotations

import uuid

from rtml.datagen.config import GeneratorConfig
from rtml.datagen.transactions import TransactionGenerator
from rtml.kafka.consumer import ValidatingConsumer
from rtml.kafka.producer import RecordProducer
from rtml.settings import Settings
from schemas.label import Label
from schemas.transaction import Transaction


def _drain(consumer: ValidatingConsumer, wanted: set[str], rounds: int = 60) -> list:
    """Records whose event_id is in ``wanted`` (topics are shared with other tests), until all came."""
    got = []
    for _, batch in zip(range(rounds), consumer.batches(max_records=1000, timeout_s=0.5), strict=False):
        got.extend(r for r in batch if r.record.event_id in wanted)
        if {r.record.event_id for r in got} >= wanted:
            break
    return got


def test_transactions_and_labels_round_trip(settings: Settings) -> None:
    generated = list(TransactionGenerator(GeneratorConfig(start_ts=1_700_000_000_000, seed=3)).events(400))
    producer = RecordProducer(settings, component="test")
    for item in generated:
        topic = "events.transactions" if item.topic_kind == "transaction" else "labels.transactions"
        producer.send(topic, item.key, item.record)
    producer.flush()
    assert producer.delivered == len(generated)

    with ValidatingConsumer(
        settings,
        ["events.transactions", "labels.transactions"],
        group=f"rt-{uuid.uuid4().hex[:6]}",
        component="test",
    ) as consumer:
        received = _drain(consumer, {i.record.event_id for i in generated})
    assert not consumer.invalid
    sent = {(type(i.record).__name__, i.record.event_id): i for i in generated}
    got = {(type(r.record).__name__, r.record.event_id): r for r in received}
    assert got.keys() == sent.keys()
    assert len(received) == len(generated)  # nothing twice
    for key, r in got.items():
        assert r.record == sent[key].record
        assert r.key == sent[key].key.encode()
    # Keyed by entity: all of one customer's transactions sit in one partition, in order.
    by_customer: dict[str, set[int]] = {}
    for r in received:
        if isinstance(r.record, Transaction):
            by_customer.setdefault(r.record.customer_id, set()).add(r.partition)
    assert all(len(parts) == 1 for parts in by_customer.values())
    assert any(isinstance(r.record, Label) for r in received)


def test_committed_offsets_resume_where_the_group_stopped(settings: Settings) -> None:
    topic = "predictions.fraud"
    group = f"resume-{uuid.uuid4().hex[:6]}"
    producer = RecordProducer(settings, component="test")
    from schemas.prediction import Prediction

    def prediction(i: int) -> Prediction:
        return Prediction(
            event_id=f"p-{i}",
            model="fraud",
            version="1",
            score=0.5,
            label=0,
            features={"x": 1.0},
            ts=1_700_000_000_000 + i,
            scored_at=1_700_000_000_100 + i,
        )

    for i in range(50):
        producer.send(topic, f"p-{i}", prediction(i))
    producer.flush()
    with ValidatingConsumer(settings, [topic], group=group, component="test") as consumer:
        first = _drain(consumer, {f"p-{i}" for i in range(50)})
    assert len(first) == 50
    for i in range(50, 60):
        producer.send(topic, f"p-{i}", prediction(i))
    producer.flush()
    with ValidatingConsumer(settings, [topic], group=group, component="test") as consumer:
        second = _drain(consumer, {f"p-{i}" for i in range(60)}, rounds=20)
    assert sorted(r.record.event_id for r in second) == sorted(f"p-{i}" for i in range(50, 60))

"""Generated records through the real broker and back through the schemas, unchanged."""

from __future__ import annotations

import time
import uuid

from rtml.datagen.config import GeneratorConfig
from rtml.datagen.transactions import TransactionGenerator
from rtml.kafka.consumer import ValidatingConsumer
from rtml.kafka.producer import RecordProducer
from rtml.settings import Settings
from schemas.label import Label
from schemas.transaction import Transaction


def _drain(consumer: ValidatingConsumer, wanted: set[str], seconds: float = 90) -> list:
    """Records whose event_id is in ``wanted``, until all came or ``seconds`` passed. Topics are shared
    with other tests, which may have put many records before ours."""
    got = []
    deadline = time.monotonic() + seconds
    for batch in consumer.batches(max_records=5000, timeout_s=0.5):
        got.extend(r for r in batch if getattr(r.record, "event_id", None) in wanted)
        if {r.record.event_id for r in got} >= wanted or time.monotonic() > deadline:
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
        second = _drain(consumer, {f"p-{i}" for i in range(60)}, seconds=10)
    assert sorted(r.record.event_id for r in second) == sorted(f"p-{i}" for i in range(50, 60))


def test_a_batch_that_failed_is_not_committed(settings: Settings) -> None:
    from schemas.prediction import Prediction

    topic, group = "predictions.fraud", f"fail-{uuid.uuid4().hex[:6]}"
    producer = RecordProducer(settings, component="test")
    ids = {f"f-{uuid.uuid4().hex[:8]}" for _ in range(5)}
    for event_id in ids:
        record = Prediction(
            event_id=event_id, model="fraud", version="1", score=0.1, label=0, features={}, ts=1, scored_at=2
        )
        producer.send(topic, event_id, record)
    producer.flush()
    try:
        with ValidatingConsumer(settings, [topic], group=group, component="test") as consumer:
            seen: set[str] = set()
            for _ in range(60):  # poll() reads without committing; close() would commit on success
                seen |= {r.record.event_id for r in consumer.poll(1000, 0.5)}
                if seen >= ids:
                    break
            assert seen >= ids
            raise RuntimeError("processing failed")
    except RuntimeError:
        pass
    with ValidatingConsumer(settings, [topic], group=group, component="test") as consumer:
        again = _drain(consumer, ids)
    assert {r.record.event_id for r in again} >= ids  # read again: nothing was lost

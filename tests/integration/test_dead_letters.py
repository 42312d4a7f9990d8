"""Bad records go to dlq.<topic> with the reason in headers, are counted, and never stop a consumer."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, Producer
from prometheus_client import REGISTRY

from rtml.datagen.config import GeneratorConfig
from rtml.datagen.transactions import TransactionGenerator
from rtml.kafka.clients import consumer_config, producer_config
from rtml.kafka.consumer import ValidatingConsumer
from rtml.settings import Settings
from schemas.dlq import parse_dead_letter_headers
from schemas.registry import codec_for
from tests.support.draining import collect_until

TOPIC = "events.transactions"


def _valid(n: int) -> list[tuple[str, bytes]]:
    codec = codec_for(TOPIC)
    items = TransactionGenerator(GeneratorConfig(start_ts=1_700_000_000_000, seed=11)).events(n)
    return [(i.key, codec.encode(i.record)) for i in items if i.topic_kind == "transaction"]


def _dead_letters(settings: Settings, keys: set[bytes], seconds: float = 60) -> list:
    """Dead letters with these keys, read from the start of the (shared) dead-letter topic."""
    consumer = Consumer(consumer_config(settings, f"dlq-reader-{uuid.uuid4().hex[:6]}"))
    consumer.subscribe([f"dlq.{TOPIC}"])
    got: list = []
    deadline = time.monotonic() + seconds
    while {m.key() for m in got} < keys and time.monotonic() < deadline:
        got.extend(m for m in consumer.consume(1000, 0.5) if m.error() is None and m.key() in keys)
    consumer.close()
    return got


def _count(rule: str, component: str) -> float:
    return (
        REGISTRY.get_sample_value("rtml_dead_letters_total", {"component": component, "topic": TOPIC, "rule": rule})
        or 0.0
    )


def test_bad_records_are_routed_and_the_good_ones_flow(settings: Settings) -> None:
    good = _valid(40)[:6]
    assert len(good) == 6
    key, valid = good[0]
    bad = {
        b"malformed": b'{"type": "transaction", "amount": ',
        b"missing-field": valid.replace(b'"merchant_id"', b'"merchant"'),
        b"wrong-type": valid.replace(b'"ts":', b'"ts":"yesterday","was":'),
        b"unknown-type": valid.replace(b'"type":"transaction"', b'"type":"refund"'),
        b"oversize": b'{"type":"transaction","pad":"' + b"x" * (codec_for(TOPIC).max_bytes + 10) + b'"}',
        b"not-json": b"\xff\xfe\x00binary",
    }
    producer = Producer(producer_config(settings, **{"message.max.bytes": 2 * codec_for(TOPIC).max_bytes}))
    sequence = []
    for i, (bad_key, bad_value) in enumerate(bad.items()):
        sequence.append((good[i % len(good)][0].encode(), good[i % len(good)][1]))
        sequence.append((bad_key, bad_value))
    for k, v in sequence:
        producer.produce(TOPIC, v, key=k)
    assert producer.flush(30) == 0

    ours = {codec_for(TOPIC).decode(v).event_id for _, v in good}

    def ours_seen(received: list) -> bool:
        return ours <= {r.record.event_id for r in received}

    component = f"test-{uuid.uuid4().hex[:6]}"
    before = _count("required", component)
    with ValidatingConsumer(settings, [TOPIC], group=component, component=component) as consumer:
        received = collect_until(consumer, lambda r: True, ours_seen)
    # The topic is shared with other tests: look at this test's records only.
    assert ours <= {r.record.event_id for r in received}  # every good record came through
    assert not any(r.key in bad for r in received)  # and none of the bad ones

    dead = _dead_letters(settings, set(bad))
    by_key = {m.key(): m for m in dead if m.key() in bad}
    assert by_key.keys() == bad.keys()
    for bad_key, message in by_key.items():
        assert message.value() == bad[bad_key]  # original bytes, untouched
        headers = parse_dead_letter_headers(message.headers())
        assert headers["rtml.component"] == component
        assert headers["rtml.source.topic"] == TOPIC
        assert int(headers["rtml.source.offset"]) >= 0
        assert headers["rtml.error.class"].endswith("SchemaError")
    rule = {k: parse_dead_letter_headers(m.headers())["rtml.error.rule"] for k, m in by_key.items()}
    field = {k: parse_dead_letter_headers(m.headers())["rtml.error.field"] for k, m in by_key.items()}
    assert rule[b"malformed"] == "json"
    assert (rule[b"missing-field"], field[b"missing-field"]) == ("required", "$.merchant_id")
    assert (rule[b"wrong-type"], field[b"wrong-type"]) == ("type", "$.ts")
    assert (rule[b"unknown-type"], field[b"unknown-type"]) == ("enum", "$.type")
    assert rule[b"oversize"] == "max_bytes"
    assert _count("required", component) == before + 1


def test_tombstone_on_a_cdc_topic_is_a_delete_not_a_dead_letter(settings: Settings) -> None:
    topic = "cdc.bank.customers"
    producer = Producer(producer_config(settings))
    producer.produce(topic, None, key=b'{"customer_id": "cust-tomb"}')
    assert producer.flush(30) == 0
    group = f"tomb-{uuid.uuid4().hex[:6]}"
    with ValidatingConsumer(settings, [topic], group=group, component=group) as consumer:
        deleted = collect_until(consumer, lambda r: r.key == b'{"customer_id": "cust-tomb"}', bool)
    assert [r.record for r in deleted] == [None]
    assert (
        REGISTRY.get_sample_value("rtml_dead_letters_total", {"component": group, "topic": topic, "rule": "required"})
        is None
    )

"""Interop with a client this project did not write: kcat (librdkafka's CLI) on both ends."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid

import pytest

from rtml.datagen.config import GeneratorConfig
from rtml.datagen.transactions import TransactionGenerator
from rtml.kafka.consumer import ValidatingConsumer
from rtml.kafka.producer import RecordProducer
from rtml.settings import Settings
from schemas.errors import SchemaError
from schemas.registry import codec_for
from tests.support.draining import collect_until

KCAT = shutil.which("kcat")
pytestmark = pytest.mark.skipif(KCAT is None, reason="kcat not installed: run scripts/setup")


def _transactions(seed: int, n: int) -> list:
    items = TransactionGenerator(GeneratorConfig(start_ts=1_700_000_000_000, seed=seed)).events(n)
    return [i for i in items if i.topic_kind == "transaction"]


def test_kcat_produces_what_our_consumer_reads(settings: Settings) -> None:
    items = _transactions(seed=21, n=50)
    # Hand-written JSON as an application team would send it: other key order, spaces, extra field.
    lines = []
    for item in items:
        r = item.record
        lines.append(
            f'{r.customer_id}|{{ "amount": {r.amount}, "type": "transaction", "event_id": "{r.event_id}", '
            f'"ts": {r.ts}, "customer_id": "{r.customer_id}", "merchant_id": "{r.merchant_id}", '
            f'"merchant_category": "{r.merchant_category}", "currency": "{r.currency}", "country": "{r.country}", '
            f'"device_id": "{r.device_id}", "channel": "{r.channel}", "app_version": "3.1.4" }}'
        )
    subprocess.run(
        [KCAT, "-b", settings.kafka_bootstrap, "-P", "-t", "events.transactions", "-K", "|", "-z", "snappy"],
        input="\n".join(lines).encode() + b"\n",
        check=True,
        timeout=30,
    )
    wanted = {i.record.event_id: i for i in items}
    with ValidatingConsumer(
        settings, ["events.transactions"], group=f"kcat-{uuid.uuid4().hex[:6]}", component="test"
    ) as consumer:
        kept = collect_until(
            consumer,
            lambda r: getattr(r.record, "event_id", None) in wanted,
            lambda rs: {r.record.event_id for r in rs} >= wanted.keys(),
        )
        got = {r.record.event_id: r for r in kept}
    assert got.keys() == wanted.keys()
    for event_id, r in got.items():
        assert r.record == wanted[event_id].record
        assert r.key == wanted[event_id].key.encode()


def test_kcat_reads_what_we_write(settings: Settings) -> None:
    items = _transactions(seed=22, n=50)
    topic = "events.transactions"
    producer = RecordProducer(settings, component="test")
    for item in items:
        producer.send(topic, item.key, item.record)
    producer.flush()
    out = subprocess.run(
        [
            KCAT,
            "-b",
            settings.kafka_bootstrap,
            "-C",
            "-t",
            topic,
            "-e",
            "-q",
            "-J",
            "-X",
            "isolation.level=read_committed",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    codec = codec_for(topic)
    seen = {}
    for line in out.splitlines():  # kcat -J: one JSON envelope per message
        envelope = json.loads(line.decode("utf-8", "replace"))  # others wrote binary junk here
        try:
            record = codec.decode(envelope["payload"].encode())
        except SchemaError:
            continue  # other tests' deliberately bad records share this topic
        seen[record.event_id] = (envelope["key"].encode(), record)
    for item in items:
        key, record = seen[item.record.event_id]
        assert key == item.key.encode()
        assert record == item.record

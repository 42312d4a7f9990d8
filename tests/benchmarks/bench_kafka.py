"""Raw produce and consume throughput against the local broker: the ceiling for every component.

200-byte records, confluent-kafka with the project's producer settings (idempotent, acks=all, lz4,
linger 5 ms) and read_committed consumers. Prints records/s and MB/s (median of runs); never asserts
on timing. Run: scripts/bench -k kafka
"""

from __future__ import annotations

import os
import statistics
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import NewTopic

from rtml.kafka.clients import admin_client, consumer_config, producer_config
from rtml.settings import Settings

RECORDS = int(os.environ.get("RTML_BENCH_RECORDS", "300000"))
RUNS = int(os.environ.get("RTML_BENCH_RUNS", "3"))
SIZE = 200


def _topic(settings: Settings) -> str:
    name = f"bench.raw.{uuid.uuid4().hex[:8]}"
    admin = admin_client(settings)
    admin.create_topics([NewTopic(name, num_partitions=6, replication_factor=1)])[name].result(timeout=30)
    return name


def _payloads() -> list[bytes]:
    # Realistic-ish JSON bodies, distinct per record so compression is not flattered too much.
    return [
        (b'{"type":"transaction","event_id":"tx-%010d","amount":%d.%02d,' % (i, i % 997, i % 100)).ljust(SIZE, b"x")[
            :SIZE
        ]
        for i in range(10_000)
    ]


def _produce(settings: Settings, topic: str, payloads: list[bytes], **overrides: object) -> float:
    producer = Producer(producer_config(settings, **overrides))
    n = len(payloads)
    started = time.perf_counter()
    for i in range(RECORDS):
        while True:
            try:
                producer.produce(topic, payloads[i % n], key=b"c-%05d" % (i % 5000))
                break
            except BufferError:
                producer.poll(0.01)
    remaining = producer.flush(120)
    elapsed = time.perf_counter() - started
    assert remaining == 0
    return elapsed


def _consume(settings: Settings, topic: str) -> float:
    consumer = Consumer(consumer_config(settings, f"bench-{uuid.uuid4().hex[:6]}", **{"fetch.min.bytes": 65536}))
    consumer.subscribe([topic])
    seen = 0
    started = None
    while seen < RECORDS:
        batch = consumer.consume(10_000, 5.0)
        if batch and started is None:
            started = time.perf_counter()
        seen += sum(1 for m in batch if m.error() is None)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return elapsed


def _report(label: str, seconds: list[float]) -> str:
    med = statistics.median(seconds)
    line = (
        f"{label:<42} {RECORDS / med:>12,.0f} records/s {RECORDS * SIZE / med / 1e6:>8.1f} MB/s"
        f"   (median of {len(seconds)}, runs {', '.join(f'{s:.2f}' for s in seconds)} s)"
    )
    print(line)
    return line


@pytest.mark.benchmark
def test_raw_produce_and_consume_throughput(kafka_settings: Settings) -> None:
    payloads = _payloads()
    print(f"\n{RECORDS:,} records of {SIZE} bytes, 6 partitions, local single-node broker, {os.cpu_count()} cores")
    idempotent, acks1, consume = [], [], []
    for _ in range(RUNS):
        topic = _topic(kafka_settings)
        idempotent.append(_produce(kafka_settings, topic, payloads))
        consume.append(_consume(kafka_settings, topic))
        acks1.append(
            _produce(kafka_settings, _topic(kafka_settings), payloads, **{"enable.idempotence": False, "acks": 1})
        )
    _report("produce (idempotent, acks=all, lz4)", idempotent)
    _report("produce (acks=1, no idempotence, lz4)", acks1)
    _report("consume (read_committed)", consume)

"""Read a shared topic until what a test is waiting for has come, or a deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rtml.kafka.consumer import ValidatingConsumer


def collect_until(
    consumer: ValidatingConsumer, keep: Callable[[Any], bool], done: Callable[[list[Any]], bool], seconds: float = 90
) -> list[Any]:
    """Received records that ``keep`` accepts, batch by batch, until ``done(kept)`` or ``seconds``."""
    kept: list[Any] = []
    deadline = time.monotonic() + seconds
    for batch in consumer.batches(max_records=5000, timeout_s=0.5):
        kept.extend(r for r in batch if keep(r))
        if done(kept) or time.monotonic() > deadline:
            break
    return kept


def read_topic(settings: Any, topic: str, idle_s: float = 3.0) -> list[Any]:
    """Every record of ``topic`` from the beginning, decoded with its codec, until ``idle_s`` without one."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from rtml.kafka.clients import consumer_config
    from schemas.registry import codec_for

    consumer = Consumer(consumer_config(settings, f"test-read-{topic}-{time.monotonic_ns()}"))
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    codec, out, quiet_since = codec_for(topic), [], time.monotonic()
    try:
        while time.monotonic() - quiet_since < idle_s:
            batch = [m for m in consumer.consume(500, 0.5) if m.error() is None]
            if batch:
                quiet_since = time.monotonic()
            out += [codec.decode(m.value()) for m in batch]
    finally:
        consumer.close()
    return out

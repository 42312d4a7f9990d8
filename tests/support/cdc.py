"""Reading what Debezium wrote: every record of a ``cdc.*`` topic, from the beginning, read_committed."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from rtml.kafka.clients import consumer_config
from rtml.settings import Settings


@dataclass(frozen=True)
class Change:
    key: dict[str, Any]
    value: dict[str, Any] | None  # None: a tombstone
    raw: bytes | None
    partition: int
    offset: int
    timestamp_ms: int  # the Kafka record's timestamp (CreateTime: when Connect produced it)
    received_s: float  # time.time() when this reader got it

    @property
    def op(self) -> str | None:
        return None if self.value is None else self.value["op"]


def read_changes(
    settings: Settings,
    topic: str,
    done: Callable[[list[Change]], bool],
    timeout_s: float = 60.0,
) -> list[Change]:
    """Records of ``topic`` from offset 0 until ``done(records)`` holds; AssertionError after ``timeout_s``."""
    consumer = Consumer(consumer_config(settings, f"test-cdc-{uuid.uuid4().hex[:8]}", **{"fetch.wait.max.ms": 10}))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        changes: list[Change] = []
        deadline = time.monotonic() + timeout_s
        while not done(changes):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: condition not met after {timeout_s:.0f} s ({len(changes)} records)")
            for message in consumer.consume(500, timeout=0.2):
                if message.error():
                    continue
                value = message.value()
                changes.append(
                    Change(
                        key=json.loads(message.key()),
                        value=None if value is None else json.loads(value),
                        raw=value,
                        partition=message.partition(),
                        offset=message.offset(),
                        timestamp_ms=message.timestamp()[1],
                        received_s=time.time(),
                    )
                )
        return changes
    finally:
        consumer.close()


def of_key(changes: list[Change], key: str) -> list[Change]:
    return [c for c in changes if c.key.get("id") == key]

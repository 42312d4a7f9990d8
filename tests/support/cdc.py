"""Reading what Debezium wrote: every record of a ``cdc.*`` topic, from the beginning, read_committed."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from rtml.kafka.clients import consumer_config
from rtml.settings import Settings

if TYPE_CHECKING:
    from rtml.stack.pipelines import Pipeline


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
    """Records of ``topic`` from offset 0 until ``done(records)`` holds; AssertionError after ``timeout_s``.
    Records whose key or value is not JSON are skipped: Debezium did not write them."""
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
                try:
                    key, decoded = json.loads(message.key()), None if value is None else json.loads(value)
                except (TypeError, ValueError):
                    continue  # not Debezium's: a malformed record another test put there for the dead-letter path
                changes.append(
                    Change(
                        key=key,
                        value=decoded,
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


@contextmanager
def running_pipelines(settings: Settings, names: list[str]) -> Iterator[list[Pipeline]]:
    """``rtml jobs start <names>`` for an isolated stack: each pipeline process sees ``settings`` (through the
    RTML_* environment it inherits), and is stopped afterwards, in reverse order."""
    from rtml.stack.pipelines import PIPELINES, Pipeline
    from tests.support.services import settings_env

    pipelines = [Pipeline(settings, PIPELINES[name]) for name in names]
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in settings_env(settings).items():
                patch.setenv(name, value)
            for pipeline in pipelines:
                pipeline.start()
        yield pipelines
    finally:
        for pipeline in reversed(pipelines):
            pipeline.stop()

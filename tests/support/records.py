"""Consumed records for tests of code that takes ``rtml.kafka.consumer.Received`` (no Kafka needed)."""

from __future__ import annotations

from typing import Any

from rtml.kafka.consumer import Received


def received(topic: str, partition: int, offset: int, record: Any, key: bytes | None = None) -> Received:
    return Received(topic, partition, offset, key, record, timestamp_ms=0)

"""Kafka-shaped messages and transactions for scorer tests (no broker)."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from schemas.transaction import Transaction

T0 = 1_700_000_000_000


def transaction(i: int, customer: str = "c1", merchant: str = "m1", **changes: object) -> Transaction:
    tx = Transaction(
        event_id=f"e{i}",
        ts=T0 + i * 1000,
        customer_id=customer,
        merchant_id=merchant,
        merchant_category="grocery",
        amount=10.0 + i,
        currency="EUR",
        country="DE",
        device_id="d1",
        channel="online",
    )
    return msgspec.structs.replace(tx, **changes) if changes else tx


@dataclass
class FakeMessage:
    """The accessors of ``confluent_kafka.Message`` the scorer reads."""

    _value: bytes | None
    _offset: int
    _partition: int = 0
    _topic: str = "events.transactions"
    _key: bytes | None = None
    _timestamp: int = T0

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def timestamp(self) -> tuple[int, int]:
        return (1, self._timestamp)

    def error(self) -> None:
        return None


def message(tx: Transaction | bytes, offset: int, partition: int = 0) -> FakeMessage:
    value = tx if isinstance(tx, bytes) else msgspec.json.encode(tx)
    key = None if isinstance(tx, bytes) else tx.customer_id.encode()
    return FakeMessage(value, offset, partition, _key=key)

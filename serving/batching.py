"""Micro-batches: when one closes, and what it holds once its records are decoded.

A batch closes at ``max_records`` records or ``max_wait_ms`` after the poll began, whichever comes
first (one ``Consumer.consume(max_records, max_wait_ms / 1000)`` call does exactly that, and keeps
rebalances between batches). ``split_batch`` turns the polled messages into decoded events, the
records that failed validation (for the dead-letter topic) and the offset to commit per partition.
Pure: messages are anything with the ``Message`` accessors, decoding is a function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from schemas.errors import SchemaError


class MessageLike(Protocol):
    """What a batch reads of a Kafka message (``confluent_kafka.Message`` has these)."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def timestamp(self) -> tuple[int, int]: ...


@dataclass(frozen=True)
class BatchPolicy:
    max_records: int = 256
    max_wait_ms: float = 10.0

    def __post_init__(self) -> None:
        if self.max_records < 1:
            raise ValueError(f"a batch holds at least 1 record, got max_records={self.max_records}")
        if self.max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {self.max_wait_ms}")

    @property
    def max_wait_s(self) -> float:
        return self.max_wait_ms / 1000


@dataclass(frozen=True, slots=True)
class Event:
    """A decoded record and where it came from; ``timestamp_ms`` is the Kafka message timestamp."""

    record: Any
    key: bytes | None
    topic: str
    partition: int
    offset: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that cannot be scored, with the reason (it goes to ``dlq.<topic>``)."""

    message: MessageLike
    error: BaseException


@dataclass
class MicroBatch:
    events: list[Event] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)  # (topic, partition) -> offset
    first_offsets: dict[tuple[str, int], int] = field(default_factory=dict)  # where to rewind to

    def __len__(self) -> int:
        return len(self.events) + len(self.rejected)

    def rejected_at(self, indices: Iterable[int], errors: Iterable[BaseException]) -> None:
        """Move ``events[i]`` to ``rejected`` (failed after decoding: a request feature, a NaN score)."""
        drop = dict(zip(indices, errors, strict=True))
        if not drop:
            return
        kept = []
        for i, event in enumerate(self.events):
            if i in drop:
                self.rejected.append(Rejected(_Replayed(event, self._value_of(event)), drop[i]))
            else:
                kept.append(event)
        self.events = kept

    value_of: Callable[[Event], bytes] | None = None

    def _value_of(self, event: Event) -> bytes:
        return self.value_of(event) if self.value_of is not None else b""


def split_batch(messages: Iterable[MessageLike], decode: Callable[[bytes | None], Any]) -> MicroBatch:
    """Decode ``messages`` (in poll order): ``decode`` raises only ``SchemaError`` for a bad record."""
    batch = MicroBatch()
    for message in messages:
        topic, partition, offset = message.topic() or "", message.partition() or 0, message.offset() or 0
        where = (topic, partition)
        batch.first_offsets.setdefault(where, offset)
        batch.next_offsets[where] = offset + 1
        try:
            record = decode(message.value())
        except SchemaError as exc:
            batch.rejected.append(Rejected(message, exc))
            continue
        batch.events.append(Event(record, message.key(), topic, partition, offset, message.timestamp()[1]))
    return batch


class _Replayed:
    """An event in the shape of a message again, for the dead-letter topic (its original bytes)."""

    def __init__(self, event: Event, value: bytes) -> None:
        self._event = event
        self._value = value

    def topic(self) -> str:
        return self._event.topic

    def partition(self) -> int:
        return self._event.partition

    def offset(self) -> int:
        return self._event.offset

    def key(self) -> bytes | None:
        return self._event.key

    def value(self) -> bytes:
        return self._value

    def timestamp(self) -> tuple[int, int]:
        return (1, self._event.timestamp_ms)

"""Consume with validation: good records to the caller, bad ones to ``dlq.<topic>``, nothing stops."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, Producer

from rtml.kafka.clients import consumer_config, producer_config
from rtml.kafka.dlq import DeadLetterRouter
from rtml.kafka.metrics import RECORDS_CONSUMED
from rtml.settings import Settings
from schemas.codec import RecordCodec
from schemas.errors import SchemaError
from schemas.registry import codec_for

# On compacted topics a null value (tombstone) deletes its key: Debezium sends one after each delete.
TOMBSTONE_TOPIC_PREFIXES = ("cdc.", "features.", "models.updates")


@dataclass(frozen=True, slots=True)
class Received:
    """A validated record; ``record`` is None for a tombstone (the key was deleted)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    record: Any
    timestamp_ms: int


class ValidatingConsumer:
    """A consumer-group member reading ``topics`` at read_committed.

    ``batches()`` yields lists of decoded records. Offsets of a batch are committed when the next
    batch is asked for (the caller has processed it) and after its dead letters were acknowledged:
    at-least-once, and no record is lost.
    """

    def __init__(
        self,
        settings: Settings,
        topics: Sequence[str],
        *,
        group: str,
        component: str,
        dead_letters: bool = True,
        consumer_overrides: dict[str, Any] | None = None,
    ) -> None:
        self.component = component
        self.topics = list(topics)
        self._codecs: dict[str, RecordCodec[Any]] = {t: codec_for(t) for t in self.topics}
        self.consumer = Consumer(consumer_config(settings, group, **(consumer_overrides or {})))
        self.consumer.subscribe(self.topics)
        self._dlq = DeadLetterRouter(Producer(producer_config(settings)), component) if dead_letters else None
        self.invalid: list[tuple[Message, SchemaError]] = []  # kept only when dead_letters is False
        self._pending_commit = False

    def batches(self, max_records: int = 500, timeout_s: float = 1.0) -> Iterator[list[Received]]:
        while True:
            self._commit()
            yield self.poll(max_records, timeout_s)

    def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Received]:
        good: list[Received] = []
        counts: dict[str, int] = {}
        for message in self.consumer.consume(max_records, timeout_s):
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                if error.fatal():
                    raise RuntimeError(f"{self.component}: fatal consumer error: {error.str()}")
                continue  # transient (broker restart, rebalance): librdkafka retries by itself
            self._pending_commit = True
            topic = message.topic() or ""
            value = message.value()
            if value is None and message.key() is not None and topic.startswith(TOMBSTONE_TOPIC_PREFIXES):
                good.append(self._received(message, None))
                continue
            try:
                record = self._codecs[topic].decode(value)
            except SchemaError as exc:
                if self._dlq is not None:
                    self._dlq.route(message, exc)
                else:
                    self.invalid.append((message, exc))
                continue
            counts[topic] = counts.get(topic, 0) + 1
            good.append(self._received(message, record))
        for topic, n in counts.items():  # one metric update per topic and batch, not per record
            RECORDS_CONSUMED.labels(self.component, topic).inc(n)
        return good

    @staticmethod
    def _received(message: Message, record: Any) -> Received:
        return Received(
            message.topic() or "",
            message.partition() or 0,
            message.offset() or 0,
            message.key(),
            record,
            message.timestamp()[1],
        )

    def _commit(self) -> None:
        if not self._pending_commit:
            return
        if self._dlq is not None:
            self._dlq.flush()
        try:
            self.consumer.commit(asynchronous=False)
        except Exception as exc:  # nothing to commit after a rebalance: harmless
            if "_NO_OFFSET" not in str(exc):
                raise
        self._pending_commit = False

    def close(self, commit: bool = True) -> None:
        """Leave the group. ``commit=False`` when the last batch was not processed (the caller failed):
        its records are read again by whoever takes over the partitions."""
        try:
            if commit:
                self._commit()
        finally:
            self.consumer.close()

    def __enter__(self) -> ValidatingConsumer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(commit=exc_type is None)

"""How a scored batch leaves the scorer: its predictions, its dead letters and its input offsets.

``AtLeastOnceDelivery`` (the default): an idempotent producer; a batch's input offsets are committed
once the broker acknowledged every record of the batch, and of every batch before it. Batches are
pipelined: the scorer goes on with the next batch while the broker acknowledges the last ones (up to
``max_in_flight``), so a produce round trip is not paid per batch. A crash before the commit scores
the batch again (duplicates, never gaps).

``ExactlyOnceDelivery``: one Kafka transaction per batch holds its predictions, its dead letters and
its input offsets (``send_offsets_to_transaction``): a ``read_committed`` reader sees each batch once or
not at all. The transactional id is stable per scorer instance, so a restarted scorer fences its killed
predecessor and aborts the transaction it left open.

``commit(offsets, on_durable)`` calls ``on_durable`` once the batch is acknowledged (committed, for
exactly-once): the scorer measures end-to-end latency there.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from rtml.kafka.metrics import DEAD_LETTERS, PRODUCE_FAILURES
from schemas.dlq import dead_letter_headers, dead_letter_topic
from schemas.errors import SchemaError
from serving.batching import Partition, Rejected

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0
# A commit the group no longer accepts (we were rebalanced out mid-batch): the new owner reads the batch
# again, which at-least-once allows; anything else is raised.
_LOST_GROUP = {
    KafkaError._NO_OFFSET,
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError._ASSIGNMENT_LOST,
}
Durable = Callable[[], None]


class DeliveryFailed(Exception):
    """The broker did not take the batch: it is not committed, and is read again after a restart."""


class BatchAborted(Exception):
    """The batch's transaction was aborted: rewind the consumer and score it again."""


class Delivery:
    def __init__(self, producer: Producer, consumer: Consumer, component: str) -> None:
        self.producer = producer
        self.consumer = consumer
        self.component = component

    def begin(self) -> None:
        """Before the first record of a batch."""

    def produce(self, topic: str, key: str | bytes | None, value: bytes, headers: Any = None) -> None:
        callback = self._callback()
        while True:
            try:
                self.producer.produce(topic, value, key, headers=headers, on_delivery=callback)
                self._queued(1)
                return
            except BufferError:  # the local queue is full: serve delivery reports until it drains
                self.producer.poll(0.05)

    def produce_many(self, topic: str, records: Sequence[tuple[str | bytes | None, bytes]]) -> None:
        """Records without headers, handed to the producer in one call (``produce_batch``; one ``produce``
        call per record took a fifth of the scorer's time at saturation)."""
        pending: list[dict[str, Any]] = [{"key": key, "value": value} for key, value in records]
        callback = self._callback()
        while pending:
            try:
                queued = self.producer.produce_batch(topic, pending, on_delivery=callback)
            except BufferError:  # nothing queued
                self.producer.poll(0.05)
                continue
            self._queued(queued)
            refused = [m for m in pending if "_error" in m]
            for m in refused:
                if m["_error"].code() != KafkaError._QUEUE_FULL:
                    raise KafkaException(m["_error"])
            pending = [{"key": m["key"], "value": m["value"]} for m in refused]
            if pending:  # the local queue is full: serve delivery reports until it drains
                self.producer.poll(0.05)

    def _callback(self) -> Callable[[KafkaError | None, Message], None]:
        """The delivery report callback of the open batch's records."""
        raise NotImplementedError

    def _queued(self, n: int) -> None:
        """``n`` records of the open batch were queued with ``_callback``."""

    def dead_letter(self, rejected: Rejected) -> None:
        """The record as it came, to ``dlq.<topic>``, with the reason in headers."""
        headers = dead_letter_headers(
            rejected.error,
            component=self.component,
            topic=rejected.topic,
            partition=rejected.partition,
            offset=rejected.offset,
        )
        self.produce(dead_letter_topic(rejected.topic), rejected.key, rejected.value or b"", list(headers))
        error = rejected.error
        rule = error.rule if isinstance(error, SchemaError) else type(error).__name__
        DEAD_LETTERS.labels(self.component, rejected.topic, rule).inc()
        log.warning("dead-lettered %s[%d]@%d: %s", rejected.topic, rejected.partition, rejected.offset, error)

    def commit(self, offsets: Mapping[Partition, int], on_durable: Durable | None = None) -> None:
        """After the batch's last record: make records and offsets durable together, or raise."""
        raise NotImplementedError

    def abort(self) -> None:
        """Give up the open batch (a stop while the store is down); it is read again."""

    def poll(self) -> None:
        """Between batches and when idle: serve delivery reports."""
        self.producer.poll(0)

    def drain(self) -> None:
        """Make everything produced so far durable and committed (before partitions are revoked)."""

    def close(self) -> None:
        self.drain()


def _partitions(offsets: Mapping[Partition, int]) -> list[TopicPartition]:
    return [TopicPartition(topic, partition, offset) for (topic, partition), offset in offsets.items()]


@dataclass(eq=False)
class _InFlight:
    outstanding: int = 0
    closed: bool = False
    failures: list[str] = field(default_factory=list)
    offsets: Mapping[Partition, int] = field(default_factory=dict)
    on_durable: Durable | None = None


class AtLeastOnceDelivery(Delivery):
    def __init__(
        self,
        producer: Producer,
        consumer: Consumer,
        component: str,
        max_in_flight: int = 4,
        commit_interval_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``commit_interval_s``: acknowledged offsets are committed at most this often (an asynchronous
        commit per batch was a tenth of the scorer's time at saturation); a crash reads those batches again,
        as at-least-once allows, and ``drain`` (a rebalance, a stop) commits everything at once."""
        super().__init__(producer, consumer, component)
        self.max_in_flight = max_in_flight
        self.commit_interval_s = commit_interval_s
        self._clock = clock
        self._batch = _InFlight()
        self._in_flight: deque[_InFlight] = deque()
        self._committed: dict[Partition, int] = {}
        self._uncommitted: dict[Partition, int] = {}
        self._last_commit = float("-inf")

    def begin(self) -> None:
        self._batch = _InFlight()

    def _callback(self) -> Callable[[KafkaError | None, Message], None]:
        return functools.partial(self._acked, self._batch)

    def _queued(self, n: int) -> None:
        self._batch.outstanding += n

    def _acked(self, batch: _InFlight, err: KafkaError | None, message: Message) -> None:
        batch.outstanding -= 1
        if err is not None:
            PRODUCE_FAILURES.labels(self.component, message.topic() or "").inc()
            batch.failures.append(f"{message.topic()}: {err.str()}")

    def commit(self, offsets: Mapping[Partition, int], on_durable: Durable | None = None) -> None:
        batch = self._batch
        batch.offsets, batch.on_durable, batch.closed = dict(offsets), on_durable, True
        self._in_flight.append(batch)
        self._batch = _InFlight()
        self.producer.poll(0)
        self._settle()
        while len(self._in_flight) > self.max_in_flight:  # bound what a crash would make us score again
            self.producer.poll(0.05)
            self._settle()

    def poll(self) -> None:
        self.producer.poll(0)
        self._settle()

    def _settle(self) -> None:
        """Commit (asynchronously) the offsets of the acknowledged batches at the head of the pipeline."""
        done: dict[Partition, int] = {}
        while self._in_flight and self._in_flight[0].outstanding == 0:
            batch = self._in_flight.popleft()
            if batch.failures:
                self._in_flight.clear()
                raise DeliveryFailed(
                    f"{self.component}: the broker refused records ({batch.failures[:3]}); the batch is not "
                    "committed and is read again after a restart (do the topics exist? `rtml topics create`)"
                )
            done.update(batch.offsets)
            if batch.on_durable is not None:
                batch.on_durable()
        self._committed.update(done)
        self._uncommitted.update(done)
        now = self._clock()
        if self._uncommitted and now - self._last_commit >= self.commit_interval_s:
            self._commit(self._uncommitted, asynchronous=True)
            self._uncommitted, self._last_commit = {}, now

    def _commit(self, offsets: Mapping[Partition, int], *, asynchronous: bool) -> None:
        try:
            if asynchronous:
                self.consumer.commit(offsets=_partitions(offsets), asynchronous=True)
            else:
                self.consumer.commit(offsets=_partitions(offsets), asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() not in _LOST_GROUP:
                raise
            log.warning("%s: offsets not committed (%s): the batch will be read again", self.component, exc)

    def drain(self) -> None:
        remaining = self.producer.flush(TIMEOUT_S)
        self._settle()
        if remaining:
            raise DeliveryFailed(f"{self.component}: {remaining} records unacknowledged after {TIMEOUT_S:.0f} s")
        if self._committed:
            self._commit(self._committed, asynchronous=False)
            self._uncommitted = {}


def log_commit_failure(err: KafkaError | None, partitions: list[TopicPartition]) -> None:
    """The consumer's ``on_commit``: an asynchronous commit that failed is logged (its batch is read again)."""
    if err is not None and err.code() != KafkaError._NO_OFFSET:
        log.warning("offset commit failed (%s): those records will be read again after a restart", err.str())


class ExactlyOnceDelivery(Delivery):
    def __init__(self, producer: Producer, consumer: Consumer, component: str) -> None:
        super().__init__(producer, consumer, component)
        producer.init_transactions(TIMEOUT_S)  # fences a predecessor with the same id, aborts its open batch
        self._open = False

    def _callback(self) -> Callable[[KafkaError | None, Message], None]:
        return self._delivered

    def _delivered(self, err: KafkaError | None, message: Message) -> None:
        if err is not None:  # the transaction fails to commit, is aborted, and the batch is read again
            PRODUCE_FAILURES.labels(self.component, message.topic() or "").inc()

    def begin(self) -> None:
        try:
            self.producer.begin_transaction()
        except KafkaException as exc:
            raise self._explained(exc) from None
        self._open = True

    def commit(self, offsets: Mapping[Partition, int], on_durable: Durable | None = None) -> None:
        try:
            if offsets:
                metadata = self.consumer.consumer_group_metadata()
                self.producer.send_offsets_to_transaction(_partitions(offsets), metadata, TIMEOUT_S)
            self._commit_retrying()
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.txn_requires_abort():
                self.abort()
                raise BatchAborted(f"{self.component}: transaction aborted ({error.str()})") from None
            raise self._explained(exc) from None
        if on_durable is not None:
            on_durable()

    def _commit_retrying(self, attempts: int = 3) -> None:
        for attempt in range(attempts):
            try:
                self.producer.commit_transaction(TIMEOUT_S)
                self._open = False
                return
            except KafkaException as exc:
                if not exc.args[0].retriable() or attempt == attempts - 1:
                    raise
                log.warning("%s: commit_transaction failed (%s), retrying", self.component, exc)

    def _explained(self, exc: KafkaException) -> Exception:
        error: KafkaError = exc.args[0]
        if not error.fatal():
            return exc
        return DeliveryFailed(
            f"{self.component}: the transactional producer failed for good ({error.str()}); if another scorer "
            "took over this transactional id, give each live scorer its own --instance (RTML_SCORER_INSTANCE_ID)"
        )

    def abort(self) -> None:
        if self._open:
            self.producer.abort_transaction(TIMEOUT_S)
            self._open = False

    def close(self) -> None:
        self.abort()

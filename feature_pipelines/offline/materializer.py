"""The offline materializer: ``features.*``, ``events.transactions`` and ``labels.*`` into Delta, exactly once.

Each batch (up to ``batch_max_records`` records or ``batch_max_seconds`` of polling) goes through
three steps, in this order:

1. **Dead letters.** Records that failed their schema, or do not fit their table (``tables.py``),
   are produced to ``dlq.<topic>`` and acknowledged. This comes first because step 2 records their
   offsets as done. (A rejected feature row is re-encoded from its decoded record: the consumer does
   not keep the original bytes.)
2. **Delta.** Records are grouped by topic (one topic, one table) and partition. Each topic partition
   has an app id ``<group>:<topic>:<partition>``; records at offsets <= its committed version are a
   replay of a run that died between steps 2 and 3 and are dropped (counted in
   ``rtml_offline_replayed_rows_skipped_total``). The rest of a table is written in ONE Delta commit
   that carries one application transaction per partition (version = the partition's last offset in
   the batch): a Delta commit is atomic, so the rows and every partition's progress land together,
   and one commit per table per batch keeps the number of small files and log entries down (one
   commit per partition would multiply both by the partition count for nothing).
3. **Kafka.** Only then are the offsets after each partition's last record committed, synchronously.
   The consumer stores no offsets by itself (``enable.auto.offset.store=false``) and is closed without
   committing, so no other path commits an offset.

A crash after 2 and before 3 replays the batch, and step 2 skips it: no duplicate. A crash before 2
replays it too, and it is written then: nothing missing. Delta is the source of truth for progress;
Kafka offsets only spare re-reading. A failed offset commit (a rebalance) is logged and harmless. One
writer per app id is the contract (the consumer group gives each partition one owner); when a
rebalance lets two overlap, delta-rs rejects the second commit with the same app id ("Concurrent
transaction") and the batch is re-planned from the versions now committed.

Fault injection (tests only): with ``RTML_FAULT_OFFLINE_AFTER_DELTA_COMMIT=1`` in the environment the
process calls ``os._exit(17)`` right after the first Delta commit that wrote rows, before any Kafka
commit: the crash the exactly-once test needs. Never set it in a deployment.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from confluent_kafka import KafkaException, Message, Producer, TopicPartition
from deltalake.exceptions import CommitFailedError

from feature_pipelines.offline import metrics
from feature_pipelines.offline.batch import BatchStats, TableWrite, by_topic, next_offsets, partitions_of, plan_table
from feature_pipelines.offline.batch import app_id as make_app_id
from feature_pipelines.offline.delta_store import DeltaOfflineStore, StaleTransactionError, default_root
from feature_pipelines.offline.lag import consumer_lag
from feature_pipelines.offline.tables import PARTITION_BY, SourceRecord, TableLayout, layout_for
from feature_pipelines.repository import FEATURE_VIEWS
from rtml.kafka.clients import admin_client, producer_config
from rtml.kafka.consumer import Received, ValidatingConsumer
from rtml.kafka.dlq import DeadLetterRouter
from rtml.settings import Settings
from schemas.registry import codec_for

FAULT_ENV = "RTML_FAULT_OFFLINE_AFTER_DELTA_COMMIT"
FAULT_EXIT_CODE = 17
DEFAULT_GROUP = "rtml-offline-materializer"
COMPONENT = "offline-materializer"
_WRITE_ATTEMPTS = 3
log = logging.getLogger(__name__)


def default_topics(settings: Settings) -> list[str]:
    """``features.<view>`` of every offline view this deployment runs, then transactions and labels."""
    topics = [v.topic for v in FEATURE_VIEWS.values() if v.offline and v.name in settings.feature_views]
    if "transactions" in settings.event_streams:
        topics += ["events.transactions", "labels.transactions"]
    return topics


class OfflineMaterializer:
    def __init__(
        self,
        settings: Settings,
        root: Path | None = None,
        topics: Sequence[str] | None = None,
        group: str = DEFAULT_GROUP,
        batch_max_records: int = 5000,
        batch_max_seconds: float = 5.0,
        *,
        component: str = COMPONENT,
        consumer_overrides: dict[str, Any] | None = None,
        lag_interval_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.group = group
        self.batch_max_records = batch_max_records
        self.batch_max_seconds = batch_max_seconds
        self.lag_interval_s = lag_interval_s
        self.store = DeltaOfflineStore(root if root is not None else default_root(settings))
        self.topics = list(topics) if topics is not None else default_topics(settings)
        self.layouts: dict[str, TableLayout] = {t: layout_for(t) for t in self.topics}
        self._clock = clock
        self._fault = os.environ.get(FAULT_ENV) == "1"
        self._dlq = DeadLetterRouter(Producer(producer_config(settings)), component)
        self._admin = admin_client(settings)
        self.consumer = ValidatingConsumer(
            settings,
            self.topics,
            group=group,
            component=component,
            dead_letters=False,  # routed here, and acknowledged before the Delta commit
            consumer_overrides={**(consumer_overrides or {}), "enable.auto.offset.store": False},
        )
        self._last_lag = 0.0
        log.info("offline materializer: group %s, topics %s, tables under %s", group, self.topics, self.store.root)

    def step(self) -> BatchStats:
        """Poll one batch and store it: dead letters, then Delta, then Kafka offsets."""
        received = self.consumer.poll(self.batch_max_records, self.batch_max_seconds)
        invalid = list(self.consumer.invalid)
        self.consumer.invalid.clear()
        stats = BatchStats(records=len(received) + len(invalid))
        if not stats.records:
            return stats
        ingested_at = int(self._clock() * 1000)
        topics = by_topic(received)
        writes = [self._plan(topic, records, ingested_at) for topic, records in topics.items()]

        for message, error in invalid:
            self._dlq.route(message, error)
        for write in writes:
            for item, error in write.conversion.rejected:
                self._dlq.route(_dead_letter(cast(Received, item)), error)
                metrics.REJECTED.labels(write.table).inc()
            stats.tombstones += write.conversion.tombstones
        stats.dead_letters = len(invalid) + sum(len(w.conversion.rejected) for w in writes)
        if stats.dead_letters:
            self._dlq.flush()  # raises rather than commit past an unacknowledged dead letter

        for write in sorted(writes, key=lambda w: w.table):
            stats += self._write(write, topics[write.layout.topic], ingested_at)

        positions = [(r.topic, r.partition, r.offset) for r in received]
        positions += [(m.topic() or "", m.partition() or 0, m.offset() or 0) for m, _ in invalid]
        self._commit_offsets(next_offsets(positions))
        log.debug("batch: %s", stats)
        return stats

    def _plan(self, topic: str, records: Sequence[SourceRecord], ingested_at: int) -> TableWrite:
        layout = self.layouts[topic]
        app_ids = [make_app_id(self.group, topic, p) for p in partitions_of(records)]
        committed = self.store.committed_versions(layout.table, app_ids)
        return plan_table(layout, records, group=self.group, committed=committed, ingested_at=ingested_at)

    def _write(self, write: TableWrite, records: Sequence[SourceRecord], ingested_at: int) -> BatchStats:
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            if write.rows == 0:
                break
            try:
                with metrics.COMMIT_SECONDS.labels(write.table).time():
                    result = self.store.append_transactions(
                        write.table, write.conversion.table, write.versions, partition_by=PARTITION_BY
                    )
            except (StaleTransactionError, CommitFailedError) as exc:
                if attempt == _WRITE_ATTEMPTS:
                    raise
                log.warning("%s: another writer committed the same partitions (%s); re-planning", write.table, exc)
                write = self._plan(write.layout.topic, records, ingested_at)
                continue
            if not result.written:  # every partition was committed between plan and append
                write = self._plan(write.layout.topic, records, ingested_at)
                continue
            metrics.ROWS.labels(write.table).inc(result.rows)
            if self._fault:
                sys.stderr.write(f"{FAULT_ENV}: exit {FAULT_EXIT_CODE} after Delta commit of {write.table}\n")
                sys.stderr.flush()
                os._exit(FAULT_EXIT_CODE)
            return self._replayed(write, BatchStats(rows=result.rows, commits=1))
        return self._replayed(write, BatchStats())

    @staticmethod
    def _replayed(write: TableWrite, stats: BatchStats) -> BatchStats:
        if write.replayed:
            metrics.REPLAYED_SKIPPED.labels(write.table).inc(write.replayed)
            log.warning(
                "%s: skipped %d replayed records already in Delta (a run stopped between the Delta and the "
                "Kafka commit)",
                write.table,
                write.replayed,
            )
        stats.replayed = write.replayed
        return stats

    def _commit_offsets(self, offsets: dict[tuple[str, int], int]) -> None:
        partitions = [TopicPartition(t, p, o) for (t, p), o in sorted(offsets.items())]
        try:
            self.consumer.consumer.commit(offsets=partitions, asynchronous=False)
        except KafkaException as exc:  # e.g. a rebalance took the partitions: Delta already has the rows
            log.warning("offsets not committed (%s); the next owner replays them and Delta skips them", exc)

    def update_lag(self) -> dict[str, int] | None:
        """Measure lag per topic now and publish it as ``rtml_offline_lag_records``; None when the
        broker did not answer (the gauge keeps its last value)."""
        self._last_lag = time.monotonic()
        try:
            lag = consumer_lag(self.consumer.consumer, self._admin, self.group)
        except KafkaException as exc:
            log.warning("lag not measured: %s", exc)
            return None
        for topic in self.topics:
            metrics.LAG.labels(topic).set(lag.get(topic, 0))
        return lag

    def run(
        self, stop: threading.Event | None = None, *, once: bool = False, timeout_s: float | None = None
    ) -> BatchStats:
        """Store batches until ``stop`` is set, or with ``once`` until caught up: partitions assigned,
        a poll found nothing, and lag is 0 (or two polls in a row found nothing: a transaction marker
        at the end of a partition keeps the high watermark one past the last record).
        ``TimeoutError`` when ``timeout_s`` passes first."""
        total = BatchStats()
        started = time.monotonic()
        idle = 0
        while stop is None or not stop.is_set():
            stats = self.step()
            total += stats
            if stats.records == 0 or time.monotonic() - self._last_lag >= self.lag_interval_s:
                lag = self.update_lag()
                if once and stats.records == 0 and self.consumer.consumer.assignment():
                    idle += 1
                    if (lag is not None and sum(lag.values()) == 0) or idle >= 2:
                        break
            if stats.records:
                idle = 0
            if timeout_s is not None and time.monotonic() - started > timeout_s:
                raise TimeoutError(f"offline materializer not caught up after {timeout_s:.0f} s ({total})")
        return total

    def close(self) -> None:
        """Leave the group without committing: offsets are committed only after their Delta commit."""
        try:
            self._dlq.flush()
        finally:
            self.consumer.consumer.close()

    def __enter__(self) -> OfflineMaterializer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _dead_letter(item: Received) -> Message:
    value = codec_for(item.topic).encode(item.record)
    return Message(topic=item.topic, partition=item.partition, offset=item.offset, key=item.key, value=value)

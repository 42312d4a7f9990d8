"""The online materializer: ``features.<view>`` topics into the online store, newest row per entity.

At-least-once: a batch's offsets are committed only after its writes (``ValidatingConsumer``), and
newer-wins writes make a replayed batch harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
from confluent_kafka import Message, Producer

from feature_pipelines.definitions import SNAPSHOT_VERSION_MS, AnyView
from feature_pipelines.online.changes import Consumed, split_by_view
from feature_pipelines.online.lag import measure_lag
from feature_pipelines.online.layout import RowEncodingError, layout_of
from feature_pipelines.online.metrics import CONSUMER_LAG, FEATURE_FRESHNESS, ROWS_APPLIED, ROWS_DELETED, ROWS_STALE
from feature_pipelines.online.registry import open_store
from feature_pipelines.online.store import OnlineStore, OnlineStoreUnavailable
from feature_pipelines.repository import FEATURE_VIEWS, get_view
from rtml.kafka.clients import producer_config
from rtml.kafka.consumer import ValidatingConsumer
from rtml.kafka.dlq import DeadLetterRouter
from rtml.prometheus import observe_many
from rtml.settings import Settings
from schemas.registry import codec_for

log = logging.getLogger(__name__)


@dataclass
class MaterializerTotals:
    batches: int = 0
    applied: int = 0
    stale: int = 0
    deleted: int = 0
    dead_lettered: int = 0


class OnlineMaterializer:
    def __init__(
        self,
        settings: Settings,
        views: Sequence[AnyView | str] | None = None,
        store: OnlineStore | None = None,
        group: str = "rtml-online-materializer",
        *,
        component: str = "online-materializer",
        max_records: int = 2000,
        poll_timeout_s: float = 0.5,
        lag_interval_s: float = 5.0,
        unavailable_timeout_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        chosen = [v for v in FEATURE_VIEWS.values() if v.online] if views is None else views
        self.views = [get_view(v) if isinstance(v, str) else v for v in chosen]
        if not self.views:
            raise ValueError("no online feature views to materialize")
        self.settings = settings
        self.store = store if store is not None else open_store(settings.redis, {v.name: v for v in self.views})
        self.group = group
        self.component = component
        self.max_records = max_records
        self.poll_timeout_s = poll_timeout_s
        self.lag_interval_s = lag_interval_s
        self.unavailable_timeout_s = unavailable_timeout_s
        self.clock = clock
        self.topics = [v.topic for v in self.views]
        self.totals = MaterializerTotals()
        self.dead_letter: Callable[[Consumed, Exception], None] = self._route_to_dlq
        self._views_by_topic = {v.topic: v for v in self.views}
        self._dlq: DeadLetterRouter | None = None
        self._dlq_pending = False

    def run(self, stop: threading.Event | None = None, max_batches: int | None = None) -> MaterializerTotals:
        """Consume until ``stop`` is set (checked between batches) or after ``max_batches`` polls."""
        stop = stop or threading.Event()
        consumer = ValidatingConsumer(self.settings, self.topics, group=self.group, component=self.component)
        log.info(
            "online materializer started: component=%s group=%s topics=%s store=%r",
            self.component, self.group, ",".join(self.topics), self.store,
        )  # fmt: skip
        next_lag, polls, reason = 0.0, 0, "stopped"
        clean = False
        try:
            for batch in consumer.batches(self.max_records, self.poll_timeout_s):
                if not self._process_retrying(batch, stop):
                    reason = "stopped while the store was unavailable (batch not committed)"
                    return self.totals
                polls += 1
                if time.monotonic() >= next_lag:
                    self._report_lag(consumer)
                    next_lag = time.monotonic() + self.lag_interval_s
                if stop.is_set() or (max_batches is not None and polls >= max_batches):
                    break
            clean = True
            return self.totals
        except BaseException as exc:
            reason = f"failed: {exc!r}"
            raise
        finally:
            if clean:
                consumer.close()  # commits the last processed batch
            else:
                consumer.consumer.close()  # leave its offsets uncommitted: the batch is read again
            t = self.totals
            log.info(
                "online materializer %s: component=%s group=%s batches=%d applied=%d stale=%d deleted=%d "
                "dead_lettered=%d",
                reason, self.component, self.group, t.batches, t.applied, t.stale, t.deleted, t.dead_lettered,
            )  # fmt: skip

    def process(self, batch: Sequence[Consumed]) -> None:
        """Apply one consumed batch to the store and count it."""
        for changes in split_by_view(batch, self._views_by_topic):
            view = changes.view
            if changes.deletes:
                deleted = self.store.delete(view, changes.deletes)
                ROWS_DELETED.labels(self.component, view.name).inc(deleted)
                self.totals.deleted += deleted
            if changes.rows:
                self._write(view, changes.rows)
        self.totals.batches += 1
        if self._dlq is not None and self._dlq_pending:
            self._dlq.flush()  # before the consumer commits this batch
            self._dlq_pending = False

    def _write(self, view: AnyView, consumed: list[Consumed]) -> None:
        rows = [c.record for c in consumed]
        try:
            applied = self.store.apply(view, rows)
        except RowEncodingError:
            layout, good = layout_of(view), []
            for item in consumed:
                try:
                    layout.encode(item.record)
                    good.append(item.record)
                except RowEncodingError as exc:
                    self.dead_letter(item, exc)
                    self.totals.dead_lettered += 1
            applied = self.store.apply(view, good)
            rows = good
        ends = np.fromiter((row.window_end for row in applied), dtype=np.float64, count=len(applied))
        ends = ends[ends > SNAPSHOT_VERSION_MS]  # a snapshot read has no commit time to be fresh against
        observe_many(FEATURE_FRESHNESS.labels(view.name), self.clock() - ends / 1000)
        ROWS_APPLIED.labels(self.component, view.name).inc(len(applied))
        ROWS_STALE.labels(self.component, view.name).inc(len(rows) - len(applied))
        self.totals.applied += len(applied)
        self.totals.stale += len(rows) - len(applied)

    def _process_retrying(self, batch: Sequence[Consumed], stop: threading.Event) -> bool:
        """Process ``batch``, waiting out a store outage (up to ``unavailable_timeout_s``); False if
        ``stop`` was set meanwhile. Replaying part of a batch is harmless: writes are newer-wins."""
        deadline, delay = time.monotonic() + self.unavailable_timeout_s, 0.5
        while True:
            try:
                self.process(batch)
                return True
            except OnlineStoreUnavailable as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("%s: %s; retrying in %.1f s", self.component, exc, delay)
                if stop.wait(delay):
                    return False
                delay = min(delay * 2, 5.0)

    def _report_lag(self, consumer: ValidatingConsumer) -> None:
        lag = measure_lag(consumer.consumer, self.topics)
        for topic, records in (lag or {}).items():
            CONSUMER_LAG.labels(self.component, topic).set(records)

    def _route_to_dlq(self, item: Consumed, error: Exception) -> None:
        if self._dlq is None:
            self._dlq = DeadLetterRouter(Producer(producer_config(self.settings)), self.component)
        self._dlq.route(cast(Message, _AsMessage(item)), error)
        self._dlq_pending = True


class _AsMessage:
    """A consumed record in the shape ``DeadLetterRouter.route`` reads (the value re-encoded)."""

    def __init__(self, item: Consumed) -> None:
        self._item = item

    def topic(self) -> str:
        return self._item.topic

    def partition(self) -> int:
        return int(getattr(self._item, "partition", 0))

    def offset(self) -> int:
        return int(getattr(self._item, "offset", -1))

    def key(self) -> bytes | None:
        return self._item.key

    def value(self) -> bytes:
        return codec_for(self._item.topic).encode(self._item.record)

"""The demo's traffic: one generated stream, its history produced at full speed, then live.

The history (the first ``history`` transactions, event times ending about when it is produced) goes
through the real pipeline as fast as Kafka takes it, so the feature job's windows hold it and a first
model trains from what the offline store archived. Live traffic continues the same stream (the same
customers, the same event ids sequence, the drift at a transaction index) paced at its rate, with every
timestamp shifted so that its event time is the wall clock when it is produced: end-to-end latency is
then event time to prediction. ``TimeShift`` is that shift; ``DemoTraffic`` produces.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import msgspec

from rtml.datagen.config import GeneratorConfig
from rtml.datagen.transactions import GeneratedRecord, TransactionGenerator
from rtml.kafka.producer import RecordProducer
from rtml.settings import Settings
from schemas.label import Label
from schemas.transaction import Transaction


@dataclass(frozen=True)
class TimeShift:
    """Moves records produced from ``since`` (unshifted event time) on by ``offset_ms``. A label of a
    transaction from before ``since`` keeps that transaction's ``event_ts``."""

    since: int
    offset_ms: int

    def apply(self, item: GeneratedRecord) -> GeneratedRecord:
        record = item.record
        if self.offset_ms == 0:
            return item
        moved: Transaction | Label
        if isinstance(record, Transaction):
            moved = msgspec.structs.replace(record, ts=record.ts + self.offset_ms)
        else:
            event_ts = record.event_ts
            if event_ts is not None and event_ts >= self.since:
                event_ts += self.offset_ms
            moved = msgspec.structs.replace(record, ts=record.ts + self.offset_ms, event_ts=event_ts)
        return msgspec.structs.replace(item, record=moved)


@dataclass
class TrafficStats:
    transactions: int = 0
    labels: int = 0
    frauds: int = 0
    history_first_ts: int | None = None
    history_last_ts: int | None = None
    live_started_ms: int | None = None
    drift_onset_ms: int | None = None  # event time (= wall time, live) of the first drifted transaction
    live_rate: float = 0.0
    done: bool = False
    error: str | None = None


class DemoTraffic:
    """``produce_history()`` then ``start_live(duration_s)`` (a thread); ``stop()`` ends it early."""

    def __init__(self, settings: Settings, config: GeneratorConfig, history: int) -> None:
        if config.drift_at is not None and config.drift_at < history:
            raise ValueError(f"the drift ({config.drift_at}) must come after the history ({history} transactions)")
        self.history = history
        self.drift_at = config.drift_at
        self.producer = RecordProducer(settings, component="demo-traffic")
        self.events_topic, self.labels_topic = "events.transactions", "labels.transactions"
        self.stream: Iterator[GeneratedRecord] = TransactionGenerator(config).events(None)
        self.pending: GeneratedRecord | None = None
        self.stats = TrafficStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.end_ms = 0  # live traffic stops at this event (= wall) time; ``extend`` moves it

    def _send(self, item: GeneratedRecord) -> None:
        if item.topic_kind == "transaction":
            self.producer.send(self.events_topic, item.key, item.record)
            self.stats.transactions += 1
            self.stats.frauds += item.is_fraud
        else:
            self.producer.send(self.labels_topic, item.key, item.record)
            self.stats.labels += 1

    def produce_history(self, progress: Callable[[int], None] = lambda _: None) -> None:
        """The first ``history`` transactions and the labels due before the next one, unpaced."""
        s = self.stats
        for item in self.stream:
            if item.topic_kind == "transaction" and s.transactions >= self.history:
                self.pending = item
                break
            if item.topic_kind == "transaction":
                s.history_first_ts = s.history_first_ts or item.record.ts
                s.history_last_ts = item.record.ts
            self._send(item)
            if s.transactions % 5000 == 0 and item.topic_kind == "transaction":
                progress(s.transactions)
        self.producer.flush(60)

    def start_live(self, duration_s: float) -> None:
        self._thread = threading.Thread(target=self._live, args=(duration_s,), name="demo-traffic", daemon=True)
        self._thread.start()

    def extend(self, seconds: float) -> None:
        """Stream ``seconds`` longer than planned (the thread reads ``end_ms`` before each record)."""
        self.end_ms += int(seconds * 1000)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _live(self, duration_s: float) -> None:
        s = self.stats
        try:
            first = self.pending
            assert first is not None, "produce_history first"
            started_ms = int(time.time() * 1000)
            shift = TimeShift(since=first.record.ts, offset_ms=started_ms - first.record.ts)
            s.live_started_ms, began = started_ms, time.monotonic()
            self.end_ms = started_ms + int(duration_s * 1000)
            items = self._continue(first)
            for item in items:
                if self._stop.is_set():
                    break
                item = shift.apply(item)
                ts = item.record.ts
                if ts > self.end_ms:
                    break
                delay = (ts - started_ms) / 1000 - (time.monotonic() - began)
                if delay > 0 and self._stop.wait(delay):
                    break
                if item.topic_kind == "transaction" and self.drift_at is not None and s.transactions == self.drift_at:
                    s.drift_onset_ms = ts
                self._send(item)
                s.live_rate = (s.transactions - self.history) / max(time.monotonic() - began, 1e-3)
            self.producer.flush(30)
        except Exception as exc:  # shown by the demo, which then stops
            s.error = f"{type(exc).__name__}: {exc}"
        finally:
            s.done = True

    def _continue(self, first: GeneratedRecord) -> Iterator[GeneratedRecord]:
        yield first
        yield from self.stream

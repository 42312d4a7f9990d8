"""The demo's traffic: one generated stream, its history produced at full speed, then paced.

The history (the first ``history`` transactions, event times ending about when it is produced) goes
through the real pipeline as fast as Kafka takes it, so the feature job's windows hold it and a first
model trains from what the offline store archived. The stream then goes on at once (the same customers,
the same event ids sequence): what its event times fell behind the wall clock while the history was
produced it catches up at full speed, then it is paced at its rate, each record sent when the wall clock
reaches its event time, so end-to-end latency is event time to prediction. It goes on while the first
model trains and the scorer starts, so the feature windows never see a pause: a 5-minute count after a
7-minute pause starts from zero and climbs for 5 minutes, a shift no model trained on steady windows (or
on that climb) can score. ``go_live`` marks where the live part the demo measures begins, schedules the
drift and sets the end.

With a bank database (``bank``: the stack's PostgreSQL), the generator follows its customers as they are (a
closed one does not pay, one who moved shops in the new country), and from ``go_live`` on the stream holds
changes to it (``bank_change_rate`` per second: credit-limit reviews, country moves, closures), each committed
to PostgreSQL when its time comes, in order with the transactions: Debezium carries them to the feature job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rtml.datagen.bank_changes import BankChange, BankChangeStream
from rtml.datagen.config import GeneratorConfig
from rtml.datagen.transactions import GeneratedRecord, TransactionGenerator
from rtml.kafka.producer import RecordProducer
from rtml.settings import Settings

if TYPE_CHECKING:
    from rtml.datagen.bank import CustomerRow
    from rtml.stack.psql import PsqlSession

NO_END = 2**62


@dataclass
class TrafficStats:
    transactions: int = 0
    labels: int = 0
    frauds: int = 0
    history_first_ts: int | None = None
    history_last_ts: int | None = None
    live_started_ms: int | None = None  # when ``go_live`` was called (wall = event time)
    live_first: int | None = None  # the index of the first live transaction
    drift_onset_ms: int | None = None  # event time (= wall time, live) of the first drifted transaction
    live_rate: float = 0.0
    bank_changes: dict[str, int] = field(default_factory=dict)  # committed to the bank database, by kind
    done: bool = False
    error: str | None = None


class DemoTraffic:
    """``produce_history()``, then ``start_paced()`` (a thread) and, once the demo measures, ``go_live(...)``;
    ``stop()`` ends it early."""

    def __init__(
        self,
        settings: Settings,
        config: GeneratorConfig,
        history: int,
        bank: tuple[Sequence[CustomerRow], PsqlSession] | None = None,
    ) -> None:
        """``bank``: the bank database's customers as they are now, and a session to commit changes with."""
        if config.drift_at is not None and config.drift_at < history:
            raise ValueError(f"the drift ({config.drift_at}) must come after the history ({history} transactions)")
        self.history = history
        self.rate = config.rate
        self.generator = TransactionGenerator(config)
        self.bank = bank
        if bank is not None:
            self.generator.follow_bank(bank[0])
        self.producer = RecordProducer(settings, component="demo-traffic")
        self.events_topic, self.labels_topic = "events.transactions", "labels.transactions"
        self.stream: Iterator[GeneratedRecord] = self.generator.events(None)
        self.pending: GeneratedRecord | None = None
        self.stats = TrafficStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live_began = 0.0
        self._end_lock = threading.Lock()
        self._ended = False  # past ``end_ms``: labels only, until ``end_ms + label_tail_ms``
        self.label_tail_ms = 0
        self.end_ms = NO_END  # paced traffic stops at this event (= wall) time; ``go_live``, ``extend`` move it

    def _send(self, item: GeneratedRecord) -> None:
        if item.topic_kind == "bank_change":
            assert self.bank is not None and isinstance(item.record, BankChange)
            self.bank[1].execute(item.record.sql())  # its own transaction (psql autocommits)
            kind = item.record.kind
            self.stats.bank_changes[kind] = self.stats.bank_changes.get(kind, 0) + 1
        elif item.topic_kind == "transaction":
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

    def start_paced(self) -> None:
        """The stream after the history, at its rate, until ``stop()`` or the end ``go_live`` sets."""
        if self.pending is None:
            raise RuntimeError("produce_history first")
        self._thread = threading.Thread(target=self._paced, name="demo-traffic", daemon=True)
        self._thread.start()

    def go_live(
        self,
        duration_s: float,
        drift_after_s: float | None,
        bank_change_rate: float = 0.0,
        bank_seed: int = 0,
        label_tail_s: float = 0.0,
    ) -> None:
        """The live part begins now and ends ``duration_s`` later; with ``drift_after_s``, the stream drifts
        after about that long (a transaction index: ``rate`` x ``drift_after_s`` transactions from now); with a
        bank database and ``bank_change_rate`` > 0, changes to it begin now (drawn with ``bank_seed``). After
        the end, the labels of the transactions sent go on for ``label_tail_s``."""
        s, now = self.stats, int(time.time() * 1000)
        if self.bank is not None and bank_change_rate > 0:
            changes = BankChangeStream(self.bank[0], self.generator.config.countries, bank_seed)
            self.generator.schedule_bank_changes(changes, bank_change_rate, now)
        self._live_began = time.monotonic()
        s.live_first, s.live_started_ms = s.transactions, now
        if drift_after_s is not None:
            # two ahead of the count: the generator may have made the next transaction already (not the one after)
            index = s.transactions + max(2, round(self.rate * drift_after_s))
            self.generator.schedule_drift(index)
        self.label_tail_ms = int(label_tail_s * 1000)
        self.end_ms = now + int(duration_s * 1000)

    @property
    def drift_at(self) -> int | None:
        """The index of the first drifted transaction (the generator's, as configured or scheduled)."""
        return self.generator.drift_at

    def extend(self, seconds: float) -> bool:
        """Stream ``seconds`` longer than planned (the thread reads ``end_ms`` before each record); False, and
        nothing changes, once the end has passed (only the last labels go out then)."""
        with self._end_lock:
            if self._ended:
                return False
            self.end_ms += int(seconds * 1000)
            return True

    @property
    def ended(self) -> bool:
        """The transactions have ended; the labels due after them may still be going out."""
        return self._ended

    @property
    def labels_until_ms(self) -> int:
        """When the last labels go out (event = wall time)."""
        return self.end_ms + self.label_tail_ms

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _paced(self) -> None:
        s = self.stats
        try:
            first = self.pending
            assert first is not None, "produce_history first"
            unsent: set[str] = set()  # transactions after the end: their labels do not go out either
            for item in self._continue(first):
                if self._stop.is_set():
                    break
                ts = item.record.ts
                with self._end_lock:
                    self._ended = self._ended or ts > self.end_ms
                if self._ended:
                    if ts > self.labels_until_ms:
                        break
                    if item.topic_kind == "transaction":
                        unsent.add(item.record.event_id)  # type: ignore[union-attr]
                    if item.topic_kind != "label" or item.record.event_id in unsent:  # type: ignore[union-attr]
                        continue
                # event time is wall time: what producing the history took is caught up at full speed
                delay = ts / 1000 - time.time()
                if delay > 0 and self._stop.wait(delay):
                    break
                if item.topic_kind == "transaction" and self.drift_at is not None and s.transactions == self.drift_at:
                    s.drift_onset_ms = ts
                self._send(item)
                if s.live_first is not None:
                    s.live_rate = (s.transactions - s.live_first) / max(time.monotonic() - self._live_began, 1e-3)
            self.producer.flush(30)
        except Exception as exc:  # shown by the demo, which then stops
            s.error = f"{type(exc).__name__}: {exc}"
        finally:
            s.done = True

    def _continue(self, first: GeneratedRecord) -> Iterator[GeneratedRecord]:
        yield first
        yield from self.stream

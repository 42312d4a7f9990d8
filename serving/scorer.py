"""The scorer's loop: micro-batches of events in, one prediction per valid event out.

Per batch: decode (bad records to ``dlq.<topic>``), read every entity's features in one round trip,
assemble the matrix in the service's order, score with the champion (and the challenger, for the
canary share and the shadow topic), produce, then commit through ``Delivery`` (at-least-once, or one
Kafka transaction per batch). Model swaps and ``models.updates`` are handled between batches only, so
a batch is scored by one version per role. ``stop`` is checked between batches: the batch in hand is
finished and committed, then the consumer leaves the group.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from feature_pipelines.feature_service import FeatureService
from feature_pipelines.online.store import OnlineStore, OnlineStoreUnavailable
from schemas.codec import RecordCodec
from schemas.prediction import Prediction
from schemas.registry import record_type_for
from serving import metrics as m
from serving.assembly import FeatureAssembler, FeatureMatrix
from serving.batching import MicroBatch, collect, split_batch
from serving.config import CHAMPION, ScorerConfig
from serving.delivery import BatchAborted, Delivery
from serving.model_slot import LoadedModel, ModelSlot
from serving.predictions import DEFAULT_THRESHOLD, Scored, build_predictions
from serving.routing import canary_mask
from serving.updates import UpdateFeed, source_of

log = logging.getLogger(__name__)
IDLE_POLL_S = 0.1  # how long an idle scorer waits for a record before it looks at models.updates again


@dataclass(frozen=True)
class BatchReport:
    """What one committed batch did (the ``on_batch`` hook: tests, progress)."""

    records: int
    predictions: int
    dead_letters: int
    versions: dict[str, str]  # role -> version that scored
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)


@dataclass
class ScorerTotals:
    batches: int = 0
    predictions: int = 0
    dead_letters: int = 0
    aborted: int = 0


class Scorer:
    def __init__(
        self,
        config: ScorerConfig,
        service: FeatureService,
        *,
        consumer: Consumer,
        delivery: Delivery,
        store: OnlineStore,
        champion: ModelSlot,
        challenger: ModelSlot | None = None,
        updates: UpdateFeed | None = None,
        on_batch: Callable[[BatchReport], None] | None = None,
        unavailable_timeout_s: float = 60.0,
    ) -> None:
        self.config = config
        self.consumer = consumer
        self.delivery = delivery
        self.store = store
        self.champion = champion
        self.challenger = challenger
        self.updates = updates
        self.on_batch = on_batch
        self.unavailable_timeout_s = unavailable_timeout_s
        self.assembler = FeatureAssembler(service)
        source = service.source.topic
        self.decoder: RecordCodec[Any] = RecordCodec(record_type_for(source), name=config.events_topic)
        self.encode = RecordCodec(Prediction, name=config.predictions_topic).encode
        self.totals = ScorerTotals()
        self._revoked_now: set[tuple[str, int]] = set()
        self._slots = {CHAMPION: champion, **({challenger.role: challenger} if challenger else {})}

    def run(self, stop: threading.Event) -> ScorerTotals:
        """Score until ``stop`` is set; returns the totals. Raises on a failure it cannot ride out."""
        c = self.config
        mode = "exactly-once" if c.exactly_once else "at-least-once"
        log.info("scorer %s: %s, %s -> %s, group %s", c.model, mode, c.events_topic, c.predictions_topic, c.group)
        subscribed = False
        try:
            while not stop.is_set():
                self.between_batches()
                if self.champion.current is None:  # no champion yet: wait for one on models.updates
                    stop.wait(0.5)
                    continue
                if not subscribed:
                    self.consumer.subscribe([c.events_topic], on_revoke=self._revoked)
                    subscribed = True
                self._revoked_now.clear()
                messages = collect(self.consumer.consume, c.policy, IDLE_POLL_S)
                consumed_at = time.perf_counter()
                if self._revoked_now:  # a rebalance while collecting: the new owner reads those records
                    messages = [m for m in messages if (m.topic(), m.partition()) not in self._revoked_now]
                batch = split_batch(self._valid(messages), self.decoder.decode)
                if not len(batch):
                    self.delivery.poll()
                    continue
                if not self._process_retrying(batch, consumed_at, stop):
                    break
        finally:
            self._close()
        return self.totals

    def between_batches(self) -> None:
        """Hand ``models.updates`` to the slots, and let a prepared model take over (only here)."""
        if self.updates is not None:
            wait = 0.0 if self.champion.current is not None else 0.5
            for update in self.updates.poll(wait):
                slot = self._slots.get(update.alias)
                if slot is not None and update.action != "archived":
                    slot.offer(source_of(update))
        for slot in self._slots.values():
            slot.swap_if_ready()

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Before partitions move to another member: what was scored from them is made durable and committed;
        records of them collected for the open batch are dropped (``run``)."""
        self._revoked_now.update((p.topic, p.partition) for p in partitions)
        self.delivery.drain()

    def _valid(self, messages: Sequence[Message]) -> list[Message]:
        out = []
        for message in messages:
            error = message.error()
            if error is None:
                out.append(message)
            elif error.fatal():
                raise KafkaException(error)
            elif error.code() != KafkaError._PARTITION_EOF:
                log.debug("consumer: %s", error.str())  # transient: librdkafka retries
        return out

    def _process_retrying(self, batch: MicroBatch, consumed_at: float, stop: threading.Event) -> bool:
        """Process ``batch``, riding out an online store outage up to ``unavailable_timeout_s``; False when
        ``stop`` was set meanwhile (the batch is not committed: it is read again)."""
        deadline, delay = time.monotonic() + self.unavailable_timeout_s, 0.5
        while True:
            try:
                self.process(batch, consumed_at)
                return True
            except OnlineStoreUnavailable as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("%s: %s; retrying the batch in %.1f s", self.config.component, exc, delay)
                if stop.wait(delay):
                    return False
                delay = min(delay * 2, 5.0)

    def process(self, batch: MicroBatch, consumed_at: float) -> None:
        c, events = self.config, batch.events
        champion = self.champion.current
        assert champion is not None, "scoring needs a champion"
        challenger = self.challenger.current if self.challenger is not None else None
        records = [e.record for e in events]
        started = time.perf_counter()
        rows = self.store.get_many(self.assembler.lookups(records))
        m.FEATURE_LOOKUP.labels(c.model).observe(time.perf_counter() - started)
        matrix = self.assembler.assemble(records, rows)
        ok = np.array([i for i in range(len(events)) if i not in matrix.failed], dtype=np.intp)
        canary = np.zeros(len(ok), dtype=bool)
        if challenger is not None and c.canary_share > 0:
            keys = self.assembler.entity_ids(records, 0)
            canary = canary_mask([keys[i] for i in ok], c.canary_share)
        scored = [self._score(champion, CHAMPION, matrix, ok[~canary])]
        if canary.any():
            assert challenger is not None
            scored.append(self._score(challenger, "canary", matrix, ok[canary]))
        shadow = self._score(challenger, "shadow", matrix, ok) if challenger and c.shadow_alias else None

        scored_at_ms = int(time.time() * 1000)
        latency_s = time.perf_counter() - consumed_at
        predictions, failed = build_predictions(
            events, matrix, scored, model=c.model, scored_at_ms=scored_at_ms,
            latency_ms=latency_s * 1000,
        )  # fmt: skip
        shadows = None
        if shadow is not None:
            shadows = build_predictions(
                events, matrix, [shadow], model=c.model, scored_at_ms=scored_at_ms,
                latency_ms=None, shadow=True,
            )  # fmt: skip
        batch.reject({**matrix.failed, **failed})

        self.delivery.begin()
        encode = self.encode
        self.delivery.produce_many(c.predictions_topic, [(p.event_id, encode(p)) for p in predictions])
        if shadows is not None:
            self.delivery.produce_many(c.shadow_topic, [(p.event_id, encode(p)) for p in shadows[0]])
            if shadows[1]:
                m.SHADOW_FAILURES.labels(c.model).inc(len(shadows[1]))
        for rejected in batch.rejected:
            self.delivery.dead_letter(rejected)
        produced_s = time.perf_counter() - consumed_at  # consume -> produce, encoding included
        m.observe_many(m.PREDICTION_LATENCY.labels(c.model), np.full(len(predictions), produced_s))
        try:
            self.delivery.commit(batch.next_offsets, functools.partial(self._durable, batch))
        except BatchAborted as exc:
            self._rewind(batch, str(exc))
            return
        self._committed(batch, predictions, scored, shadow, matrix)

    def _score(self, model: LoadedModel, role: str, matrix: FeatureMatrix, rows: np.ndarray) -> Scored:
        threshold = self.threshold(model)
        if not len(rows):
            return Scored(model.version, rows, np.zeros(0, dtype=np.float32), threshold)
        started = time.perf_counter()
        scores = model.runtime.predict(matrix.model_input(rows))
        m.INFERENCE.labels(self.config.model, role).observe(time.perf_counter() - started)
        return Scored(model.version, rows, scores, threshold)

    def threshold(self, model: LoadedModel) -> float:
        """Where ``model``'s scores turn into positive labels: the configured threshold, else the version's own
        (chosen on its validation slice at training), else 0.5."""
        if self.config.threshold is not None:
            return self.config.threshold
        own = model.runtime.threshold
        return DEFAULT_THRESHOLD if own is None else own

    def _committed(
        self,
        batch: MicroBatch,
        predictions: list[Any],
        scored: list[Scored],
        shadow: Scored | None,
        matrix: FeatureMatrix,
    ) -> None:
        c = self.config
        m.BATCH_SIZE.labels(c.model).observe(len(batch))
        roles = dict(zip([CHAMPION, "canary"], scored, strict=False)) | ({"shadow": shadow} if shadow else {})
        for role, part in roles.items():
            if len(part.rows):
                m.PREDICTIONS.labels(c.model, part.version, role).inc(len(part.rows))
        for v, view in enumerate(matrix.view_names):
            n_missing = int(matrix.missing[:, v].sum())
            if n_missing:
                m.FEATURES_MISSING.labels(c.model, view).inc(n_missing)
        t = self.totals
        t.batches += 1
        t.predictions += len(predictions)
        t.dead_letters += len(batch.rejected)
        if self.on_batch is not None:
            versions = {role: part.version for role, part in roles.items() if len(part.rows)}
            self.on_batch(BatchReport(len(batch), len(predictions), len(batch.rejected), versions, batch.next_offsets))

    def _durable(self, batch: MicroBatch) -> None:
        """The batch's predictions are acknowledged (committed): event produced -> prediction produced."""
        now_ms = time.time() * 1000
        produced_ms = np.array([e.timestamp_ms for e in batch.events if e.timestamp_ms > 0], dtype=np.float64)
        m.observe_many(m.END_TO_END_LATENCY.labels(self.config.model), np.maximum(0.0, now_ms - produced_ms) / 1000)

    def _rewind(self, batch: MicroBatch, reason: str) -> None:
        log.warning("%s; reading the batch again", reason)
        m.TRANSACTIONS_ABORTED.labels(self.config.model).inc()
        self.totals.aborted += 1
        for (topic, partition), offset in batch.first_offsets.items():
            try:
                self.consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:  # no longer ours: its new owner reads it from the committed offset
                log.info("not rewinding %s[%d]: %s", topic, partition, exc)

    def _close(self) -> None:
        try:
            self.delivery.close()
        finally:
            self.consumer.close()  # leaves the group: its partitions move at once
            if self.updates is not None:
                self.updates.close()
            for slot in self._slots.values():
                slot.close()
        t = self.totals
        log.info(
            "scorer %s stopped: batches=%d predictions=%d dead_letters=%d aborted=%d",
            self.config.model, t.batches, t.predictions, t.dead_letters, t.aborted,
        )  # fmt: skip

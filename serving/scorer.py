"""The scorer's loop: micro-batches of events in, one prediction per valid event out.

Per batch: decode (bad records to ``dlq.<topic>``), read every entity's features in one round trip,
assemble the matrix in the service's order, score with the champion (and the challenger, for the
canary share and the shadow topic), produce, then commit through ``Delivery`` (at-least-once, or one
Kafka transaction per batch). Model swaps and ``models.updates`` are handled between batches only, so
a batch is scored by one version per role. ``stop`` is checked between batches: the batch in hand is
finished and committed, then the consumer leaves the group.
"""

from __future__ import annotations

import contextlib
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
from feature_pipelines.online.store import OnlineStore, OnlineStoreUnavailable, PendingFeatures
from schemas.codec import RecordCodec
from schemas.registry import record_type_for
from serving import metrics as m
from serving.assembly import FeatureAssembler, FeatureMatrix, Lookups
from serving.batching import MicroBatch, Partition, collect, split_batch
from serving.config import CHAMPION, ScorerConfig
from serving.delivery import BatchAborted, Delivery
from serving.model_slot import LoadedModel, ModelSlot
from serving.predictions import DEFAULT_THRESHOLD, PredictionWriter, Scored, Written
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
class InHand:
    """A collected batch, what to read for it, and the read of its features, sent when it was collected (None:
    read them when the batch is processed); ``read_s``: how long sending that read took."""

    batch: MicroBatch
    consumed_at: float
    lookups: Lookups
    features: PendingFeatures | None = None
    read_s: float = 0.0


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
        self.writer = PredictionWriter(service.feature_names)
        self.totals = ScorerTotals()
        self._revoked_now: set[tuple[str, int]] = set()
        self._slots = {CHAMPION: champion, **({challenger.role: challenger} if challenger else {})}

    def run(self, stop: threading.Event) -> ScorerTotals:
        """Score until ``stop`` is set; returns the totals. Raises on a failure it cannot ride out."""
        c = self.config
        mode = "exactly-once" if c.exactly_once else "at-least-once"
        log.info("scorer %s: %s, %s -> %s, group %s", c.model, mode, c.events_topic, c.predictions_topic, c.group)
        subscribed, ahead = False, None
        try:
            while not stop.is_set():
                self.between_batches()
                if self.champion.current is None:  # no champion yet: wait for one on models.updates
                    stop.wait(0.5)
                    continue
                if not subscribed:
                    self.consumer.subscribe([c.events_topic], on_revoke=self._revoked)
                    subscribed = True
                current, ahead = ahead or self._collect(IDLE_POLL_S), None
                if current is None:
                    self.delivery.poll()
                    continue
                if len(current.batch) >= c.policy.max_records:  # saturated: more is queued, so take it now and
                    ahead = self._collect(0.0)  # read its features while `current` is scored (decision 0009)
                    if self._revoked_now:  # a rebalance meanwhile: the new owner reads those records
                        current = self._without(current, self._revoked_now)
                        if current is None:
                            continue
                try:
                    if not self._process_retrying(current, stop):
                        break
                except BatchAborted as exc:  # exactly-once: read both batches in hand again
                    self._rewind([current.batch, *([ahead.batch] if ahead else [])], str(exc))
                    self._forget(ahead)
                    ahead = None
        finally:
            self._forget(ahead)
            self._close()
        return self.totals

    def _collect(self, wait_s: float) -> InHand | None:
        """The next batch (waiting up to ``wait_s`` for its first record), with the read of its features sent."""
        self._revoked_now.clear()
        messages = collect(self.consumer.consume, self.config.policy, wait_s)
        consumed_at = time.perf_counter()
        if self._revoked_now:  # a rebalance while collecting: the new owner reads those records
            messages = [m for m in messages if (m.topic(), m.partition()) not in self._revoked_now]
        batch = split_batch(self._valid(messages), self.decoder.decode)
        if not len(batch):
            return None
        return self._in_hand(batch, consumed_at)

    def _in_hand(self, batch: MicroBatch, consumed_at: float) -> InHand:
        """``batch`` with the read of its features sent; on an outage it is sent again when the batch is processed."""
        started = time.perf_counter()
        in_hand = InHand(batch, consumed_at, self.assembler.lookups([e.record for e in batch.events]))
        with contextlib.suppress(OnlineStoreUnavailable):
            in_hand.features = self.store.read_many(in_hand.lookups.requests)
        in_hand.read_s = time.perf_counter() - started
        return in_hand

    def _without(self, in_hand: InHand, partitions: set[Partition]) -> InHand | None:
        batch = in_hand.batch.without(partitions)
        if len(batch) == len(in_hand.batch):
            return in_hand
        self._forget(in_hand)  # its features were read for the records before
        return self._in_hand(batch, in_hand.consumed_at) if len(batch) else None

    def _forget(self, in_hand: InHand | None) -> None:
        """Drop a batch that will not be processed (it is read again): its features' reply is taken and dropped."""
        if in_hand is not None and in_hand.features is not None:
            with contextlib.suppress(OnlineStoreUnavailable):
                in_hand.features.result()

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

    def _process_retrying(self, in_hand: InHand, stop: threading.Event) -> bool:
        """Process ``in_hand``, riding out an online store outage up to ``unavailable_timeout_s``; False when
        ``stop`` was set meanwhile (the batch is not committed: it is read again)."""
        deadline, delay = time.monotonic() + self.unavailable_timeout_s, 0.5
        while True:
            try:
                self.process(in_hand)
                return True
            except OnlineStoreUnavailable as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("%s: %s; retrying the batch in %.1f s", self.config.component, exc, delay)
                in_hand.features, in_hand.read_s = None, 0.0  # read them again
                if stop.wait(delay):
                    return False
                delay = min(delay * 2, 5.0)

    def process(self, in_hand: InHand) -> None:
        """Score, produce and commit one batch; raises ``BatchAborted`` when its transaction is aborted."""
        c, batch, consumed_at = self.config, in_hand.batch, in_hand.consumed_at
        events = batch.events
        champion = self.champion.current
        assert champion is not None, "scoring needs a champion"
        challenger = self.challenger.current if self.challenger is not None else None
        records = [e.record for e in events]
        started = time.perf_counter()
        pending = in_hand.features or self.store.read_many(in_hand.lookups.requests)
        rows = pending.result()
        m.FEATURE_LOOKUP.labels(c.model).observe(in_hand.read_s + time.perf_counter() - started)
        matrix = self.assembler.assemble(records, rows, in_hand.lookups)
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
        predictions = self.writer.write(
            events, matrix, scored, model=c.model, scored_at_ms=scored_at_ms, latency_ms=latency_s * 1000
        )
        shadows = None
        if shadow is not None:
            shadows = self.writer.write(
                events, matrix, [shadow], model=c.model, scored_at_ms=scored_at_ms, latency_ms=None, shadow=True
            )
        batch.reject({**matrix.failed, **predictions.failed})

        self.delivery.begin()
        self.delivery.produce_many(c.predictions_topic, predictions.records)
        if shadows is not None:
            self.delivery.produce_many(c.shadow_topic, shadows.records)
            if shadows.failed:
                m.SHADOW_FAILURES.labels(c.model).inc(len(shadows.failed))
        for rejected in batch.rejected:
            self.delivery.dead_letter(rejected)
        produced_s = time.perf_counter() - consumed_at  # consume -> produce, encoding included
        m.observe_many(m.PREDICTION_LATENCY.labels(c.model), np.full(len(predictions), produced_s))
        self.delivery.commit(batch.next_offsets, functools.partial(self._durable, batch))
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
        predictions: Written,
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

    def _rewind(self, batches: Sequence[MicroBatch], reason: str) -> None:
        """Seek each partition of ``batches`` (in consumption order) back to its first record in them."""
        log.warning("%s; reading the batch again", reason)
        m.TRANSACTIONS_ABORTED.labels(self.config.model).inc()
        self.totals.aborted += 1
        first: dict[Partition, int] = {}
        for batch in batches:
            for where, offset in batch.first_offsets.items():
                first.setdefault(where, offset)
        for (topic, partition), offset in first.items():
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

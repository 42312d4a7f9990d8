"""The faust adapter: Kafka topics and changelog tables around a ``MonitorRunner``.

One agent reads ``predictions.<model>``, ``labels.<label>`` and ``models.updates`` as one stream, in batches
(``stream.noack_take``), so records of one batch are handled in order on one task. Two tables, in memory and
backed by changelog topics (``<group>-drift-state-changelog``, ``<group>-label-joins-changelog``), make a
restarted monitor resume where it was: ``label-joins`` holds the predictions and labels waiting for each
other, in 64 buckets (``bucketed.py``); ``drift-state`` the monitor's snapshot (windows, detectors, debounce,
performance; the reference profile left out and given back at restore). Both write their changelog by key
(``use_partitioner``), so one key's updates stay in one partition, in order.

Tables are written at checkpoints, every ``checkpoint_interval_s`` (5 s) rather than per batch: each changed
bucket once, and the snapshot (writing them per batch cost more than the monitoring itself). Events are
acked only by the checkpoint that covers them, so faust commits no offset past the state in the changelogs
(it flushes the producer before committing). After a crash the monitor resumes from the last checkpoint and
reads again what came after it; records covered by a checkpoint but not yet committed (faust commits every
2.8 s) are seen twice (at least once).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import faust

from rtml.kafka.metrics import DEAD_LETTERS
from schemas.codec import RecordCodec
from schemas.dlq import dead_letter_headers, dead_letter_topic
from schemas.drift import DriftEvent
from schemas.errors import SchemaError
from stream_jobs.drift import faust_fix
from stream_jobs.drift.bucketed import BucketedStore
from stream_jobs.drift.config import DriftJobConfig
from stream_jobs.drift.metrics import init_series, report, report_state
from stream_jobs.drift.monitor import DriftMonitor
from stream_jobs.drift.runner import MonitorRunner, RawRecord
from training.profile import ReferenceProfile

log = logging.getLogger(__name__)

STATE_TABLE = "drift-state"
JOINS_TABLE = "label-joins"


def build_app(
    bootstrap: str,
    config: DriftJobConfig,
    reference: ReferenceProfile,
    version: str | None,
    load_reference: Callable[[str], ReferenceProfile] | None,
    *,
    datadir: str | None = None,
    checkpoint_every_s: float | None = None,
) -> faust.App:
    """A faust app monitoring ``config.model``: ``reference`` is the current champion's (``version``).
    ``checkpoint_every_s``: None takes ``config.checkpoint_interval_s``."""
    if checkpoint_every_s is None:
        checkpoint_every_s = config.checkpoint_interval_s
    faust_fix.install()  # records fetched while a rebalance suspends the flow are read again, not skipped
    app = faust.App(
        config.group,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        web_enabled=config.web_port is not None,
        web_port=config.web_port or 6066,
        web_host="127.0.0.1",
        datadir=datadir,
        topic_partitions=1,
        topic_replication_factor=1,
        topic_disable_leader=True,
        broker_session_timeout=config.session_timeout_s,
        broker_heartbeat_interval=max(1.0, config.session_timeout_s / 10),
        consumer_auto_offset_reset=config.start_at,
        processing_guarantee="at_least_once",
        # A stop (or a revocation) must not wait for every event to be acked: events after the last checkpoint
        # are acked only by the next one, which may never come once the agent and the timer stop (the worker
        # then hung). Faust commits what the checkpoints acked; the rest is read again after the restart.
        stream_wait_empty=False,
    )
    inputs = app.topic(
        config.predictions_topic,
        config.labels_topic,
        config.updates_topic,
        key_serializer="raw",
        value_serializer="raw",
    )
    drift_topic = app.topic(config.drift_topic, key_serializer="raw", value_serializer="raw")
    # bytes -> the raw codec; anything else -> JSON (faust picks the serializer from the type)
    state = app.Table(STATE_TABLE, partitions=1, use_partitioner=True, key_type=bytes, value_type=bytes)
    joins = app.Table(JOINS_TABLE, partitions=1, use_partitioner=True, key_type=str)
    drift_codec = RecordCodec(DriftEvent, name=config.drift_topic)
    model_key = config.model.encode()
    init_series(config.model, config.monitor.detectors)
    holder: dict[str, Any] = {}

    def runner() -> MonitorRunner:
        if "runner" not in holder:  # first batch: the tables are recovered from their changelogs by now
            holder["joins"] = BucketedStore.load(joins)
            holder["runner"] = MonitorRunner(config, _resume(state.get(model_key), holder["joins"]), load_reference)
        return holder["runner"]  # type: ignore[no-any-return]

    def _resume(snapshot: bytes | None, store: Any) -> DriftMonitor:
        if snapshot is not None:
            try:
                monitor = DriftMonitor.restore(snapshot, store, reference)
            except ValueError as exc:  # taken against another reference: another champion, another --reference
                log.info("model %s: windows and detectors restart on version %s: %s", config.model, version, exc)
                return DriftMonitor(config.model, reference, version, config.monitor, store)
            if monitor.version == version or load_reference is None:
                log.info(
                    "model %s: resumed from the changelog: window %d, %d predictions, %d outcomes, %d waiting joins",
                    config.model,
                    monitor.windows.index,
                    monitor.counts.predictions,
                    monitor.performance.seen,
                    len(monitor.join),
                )
                return monitor
            log.info("model %s: champion changed from %s to %s while stopped", config.model, monitor.version, version)
            monitor.reset(reference, version)
            return monitor
        return DriftMonitor(config.model, reference, version, config.monitor, store)

    held: list[Any] = []  # events processed since the last checkpoint, acked by the next one
    next_checkpoint = [time.monotonic() + checkpoint_every_s]

    async def checkpoint() -> None:
        """Write the changed join buckets and the monitor's snapshot, then ack the events they cover."""
        next_checkpoint[0] = time.monotonic() + checkpoint_every_s
        if not held or "runner" not in holder:
            return
        holder["joins"].flush()
        state[model_key] = holder["runner"].monitor.snapshot(reference=False)
        report_state(holder["runner"])
        covered = held[:]
        held.clear()
        for event in covered:
            await holder["stream"].ack(event)

    @app.agent(inputs)
    async def monitor_agent(stream: Any) -> None:
        holder["stream"] = stream
        async for events in stream.noack_take(config.batch_max_records, within=config.batch_max_s):
            records = [
                RawRecord(e.message.topic, e.message.key, e.message.value, e.message.partition, e.message.offset)
                for e in events
            ]
            r = runner()
            result = r.handle(records)
            for record, error in result.dead_letters:
                await _dead_letter(app, config, record, error)
            for event in result.events:
                await drift_topic.send(key=model_key, value=drift_codec.encode(event))
                log.warning(
                    "drift %s: %s %s on %s: statistic %.4g, threshold %.4g (%s) window %d..%d",
                    event.drift_id,
                    event.kind,
                    event.detector,
                    event.feature or ("score" if event.kind == "prediction" else "performance"),
                    event.statistic,
                    event.threshold,
                    event.severity,
                    event.window_start,
                    event.window_end,
                )
            report(r, result)
            held.extend(events)
            if time.monotonic() >= next_checkpoint[0]:
                await checkpoint()

    @app.timer(checkpoint_every_s)
    async def idle_checkpoint() -> None:  # the last records before a pause get written too
        if time.monotonic() >= next_checkpoint[0]:
            await checkpoint()

    app.monitor_tables = (state, joins)  # type: ignore[attr-defined]  # for tests and operators
    return app


async def _dead_letter(app: faust.App, config: DriftJobConfig, record: RawRecord, error: Exception) -> None:
    headers = dead_letter_headers(
        error, component=config.component, topic=record.topic, partition=record.partition, offset=record.offset
    )
    await app.topic(dead_letter_topic(record.topic), key_serializer="raw", value_serializer="raw").send(
        key=record.key, value=record.value, headers=headers
    )
    rule = error.rule if isinstance(error, SchemaError) else type(error).__name__
    DEAD_LETTERS.labels(config.component, record.topic, rule).inc()
    log.warning("dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, error)

"""The faust adapter: Kafka topics and changelog tables around a ``MonitorRunner``.

One agent reads ``predictions.<model>``, ``labels.<label>`` and ``models.updates`` as one stream, in batches
(``stream.take_events``), so records of one batch are handled in order on one task. Two tables, in memory and
backed by changelog topics (``<group>-drift-state-changelog``, ``<group>-label-joins-changelog``), make a
restarted monitor resume where it was: ``label-joins`` holds the predictions and labels waiting for each
other, in 64 buckets, each bucket changed by a batch written once after it (``bucketed.py``); ``drift-state``
the monitor's snapshot (windows, detectors, debounce, performance; written once per batch). Both write their
changelog by key (``use_partitioner``), so one key's updates stay in one partition, in order. Offsets are
committed after processing (at least once): records processed after the last snapshot but before the last
commit are seen again after a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import faust

from rtml.kafka.metrics import DEAD_LETTERS
from schemas.codec import RecordCodec
from schemas.dlq import dead_letter_headers, dead_letter_topic
from schemas.drift import DriftEvent
from schemas.errors import SchemaError
from stream_jobs.drift.bucketed import BucketedStore
from stream_jobs.drift.config import DriftJobConfig
from stream_jobs.drift.metrics import report
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
) -> faust.App:
    """A faust app monitoring ``config.model``: ``reference`` is the current champion's (``version``)."""
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
    holder: dict[str, Any] = {}

    def runner() -> MonitorRunner:
        if "runner" not in holder:  # first batch: the tables are recovered from their changelogs by now
            holder["joins"] = BucketedStore.load(joins)
            holder["runner"] = MonitorRunner(config, _resume(state.get(model_key), holder["joins"]), load_reference)
        return holder["runner"]  # type: ignore[no-any-return]

    def _resume(snapshot: bytes | None, store: Any) -> DriftMonitor:
        if snapshot is not None:
            monitor = DriftMonitor.restore(snapshot, store)
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

    @app.agent(inputs)
    async def monitor_agent(stream: Any) -> None:
        async for events in stream.take_events(config.batch_max_records, within=config.batch_max_s):
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
            holder["joins"].flush()
            state[model_key] = r.monitor.snapshot()
            report(r, result)

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

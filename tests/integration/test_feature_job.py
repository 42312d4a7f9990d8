"""The Flink feature job on a real broker and a real MiniCluster: its rows equal a naive Python
oracle; malformed and late events go to the dead-letter topic with their reason; the job goes on."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import NewTopic

from rtml.datagen.config import GeneratorConfig
from rtml.datagen.transactions import TransactionGenerator
from rtml.kafka.clients import admin_client, consumer_config, producer_config
from rtml.settings import Settings
from schemas.dlq import parse_dead_letter_headers
from schemas.registry import codec_for
from tests.support import flink_views
from tests.support.feature_oracle import expected_rows
from tests.support.services import isolated_settings, running_stack, settings_env

START = 1_795_300_000_000
# Float aggregates: Flink sums doubles in arrival order, the oracle in list order; both are IEEE
# doubles over <= a few hundred values, so they agree to ~1e-12 relative. Counts, sums of the same
# order, min, max and distinct counts are compared exactly where order cannot matter.
REL = 1e-9


def _read_all(settings: Settings, topic: str) -> list[Any]:
    consumer = Consumer(consumer_config(settings, f"read-{topic}"))
    consumer.subscribe([topic])
    out, idle = [], 0
    while idle < 4:
        batch = [m for m in consumer.consume(1000, 1.0) if m.error() is None]
        idle = 0 if batch else idle + 1
        out.extend(batch)
    consumer.close()
    return out


@pytest.fixture(scope="module")
def job_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    settings = isolated_settings(tmp_path_factory.mktemp("flink"), flink_watermark_emit="on-event")
    with running_stack(settings, ["kafka"]):
        admin = admin_client(settings)
        topics = [flink_views.TOPIC, f"dlq.{flink_views.TOPIC}"] + [v.topic for v in flink_views.FEATURE_VIEWS.values()]
        for future in admin.create_topics(
            [NewTopic(t, num_partitions=1, replication_factor=1) for t in topics]
        ).values():
            future.result(timeout=30)
        config = GeneratorConfig(start_ts=START, seed=5, n_customers=12, rate=4.0, daily_cycle=False)
        good = [i.record for i in TransactionGenerator(config).events(600) if i.topic_kind == "transaction"]
        codec = codec_for("events.transactions")
        valid = codec.encode(good[0])
        malformed = {
            b"bad-json": b'{"type": "transaction", "ts": ',
            b"bad-amount": valid.replace(b'"amount":', b'"amount":-5,"x":'),
            b"bad-type": valid.replace(b'"type":"transaction"', b'"type":"refund"'),
            b"no-customer": valid.replace(b'"customer_id"', b'"customer"'),
            b"ts-as-text": valid.replace(b'"ts":', b'"ts":"soon","y":'),
        }
        late = [
            codec.encode(
                type(good[0])(
                    **{
                        **{f: getattr(good[0], f) for f in good[0].__struct_fields__},
                        "event_id": f"late-{i}",
                        "ts": good[-1].ts - 120_000,
                    }
                )
            )
            for i in range(3)
        ]
        producer = Producer(producer_config(settings))
        pending = list(malformed.items())
        for n, record in enumerate(good):
            producer.produce(flink_views.TOPIC, codec.encode(record), key=record.customer_id.encode())
            if n % 100 == 50 and pending:  # bad records in the middle of the stream
                key, value = pending.pop()
                producer.produce(flink_views.TOPIC, value, key=key)
        assert not pending
        for value in late:
            producer.produce(flink_views.TOPIC, value, key=b"late")
        assert producer.flush(30) == 0
        job = subprocess.run(
            [
                sys.executable,
                "-m",
                "stream_jobs.feature_job",
                "--bounded",
                "--definitions",
                "tests.support.flink_views",
            ],
            env=settings_env(settings),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert job.returncode == 0, job.stderr[-3000:]
        yield {
            "settings": settings,
            "good": good,
            "features": {v.name: _read_all(settings, v.topic) for v in flink_views.FEATURE_VIEWS.values()},
            "dead": _read_all(settings, f"dlq.{flink_views.TOPIC}"),
        }


@pytest.mark.parametrize("view", list(flink_views.FEATURE_VIEWS.values()), ids=lambda v: v.name)
def test_rows_equal_the_oracle(job_run: dict[str, Any], view: Any) -> None:
    codec = codec_for(view.topic)
    got = {}
    for message in job_run["features"][view.name]:
        row = codec.decode(message.value())
        assert message.key() == row.entity_id.encode()
        assert (row.entity_id, row.window_end) not in got, "a row was written twice"
        got[(row.entity_id, row.window_end)] = row
    want = expected_rows(view, job_run["good"])
    assert got.keys() == want.keys()
    for key, row in got.items():
        assert row.view == view.name
        assert row.window_start == row.window_end - view.max_window.size_ms
        for feature in view.features:
            have, expect = row.values[feature.name], want[key][feature.name]
            if expect is None or feature.aggregation.function in ("count", "count_distinct", "min", "max"):
                assert have == expect, (key, feature.name)
            else:
                assert math.isclose(have, expect, rel_tol=REL, abs_tol=1e-9), (key, feature.name, have, expect)


def test_malformed_and_late_events_are_dead_lettered(job_run: dict[str, Any]) -> None:
    reasons = {}
    for message in job_run["dead"]:
        headers = parse_dead_letter_headers(message.headers())
        reasons[message.key()] = (headers["rtml.error.rule"], headers["rtml.error.field"])
        assert headers["rtml.source.topic"] == flink_views.TOPIC
        assert headers["rtml.component"] == "flink-feature-job"
    assert reasons[b"bad-json"] == ("json", "$")
    assert reasons[b"bad-amount"] == ("gt", "$.amount")
    assert reasons[b"bad-type"] == ("enum", "$.type")
    assert reasons[b"no-customer"] == ("required", "$.customer_id")
    assert reasons[b"ts-as-text"] == ("type", "$.ts")
    assert reasons[b"late"] == ("late", "$.ts")
    assert sum(1 for m in job_run["dead"] if m.key() == b"late") == 3
    assert len(job_run["dead"]) == 5 + 3  # nothing else: every good event made it into the windows


@pytest.mark.parametrize("view", list(flink_views.FEATURE_VIEWS.values()), ids=lambda v: v.name)
def test_backfill_from_the_archived_events_gives_the_rows_of_the_stream(
    job_run: dict[str, Any], view: Any, tmp_path: Any
) -> None:
    """The release gate of "one definition, two compilers": the same events through the Flink job and
    through the DuckDB backfill give the same rows. Counts, distinct counts, min and max exactly;
    sums, means and stddevs to REL (IEEE doubles added in another order)."""
    from feature_pipelines.backfill import backfill_view
    from feature_pipelines.offline.delta_store import DeltaOfflineStore
    from feature_pipelines.offline.tables import source_layout, to_arrow
    from rtml.kafka.consumer import Received

    store = DeltaOfflineStore(tmp_path / "offline")
    layout = source_layout(view.source)
    received = [Received(view.source.topic, 0, i, None, r, r.ts) for i, r in enumerate(job_run["good"])]
    store.append(layout.table, to_arrow(layout, received, ingested_at=1).table, app_id="test", version=1)
    result = backfill_view(store, view, start_ms=0, end_ms=2**62)
    assert result.written and result.rows > 0
    again = backfill_view(store, view, start_ms=0, end_ms=2**62)
    assert not again.written, "the same backfill over the same events version must be skipped"

    backfilled = {(r["entity_id"], r["window_end"]): r for r in store.read(result.table).to_pylist()}
    assert len(backfilled) == result.rows, "one row per (entity, window end)"
    codec = codec_for(view.topic)
    streamed = {}
    for message in job_run["features"][view.name]:
        row = codec.decode(message.value())
        streamed[(row.entity_id, row.window_end)] = row
    assert backfilled.keys() == streamed.keys()
    for key, row in streamed.items():
        assert backfilled[key]["window_start"] == row.window_start
        assert backfilled[key]["_topic"] == "backfill"
        for feature in view.features:
            have, expect = backfilled[key][feature.name], row.values[feature.name]
            if expect is None or feature.aggregation.function in ("count", "count_distinct", "min", "max"):
                assert have == expect, (key, feature.name)
            else:
                assert math.isclose(have, expect, rel_tol=REL, abs_tol=1e-9), (key, feature.name, have, expect)

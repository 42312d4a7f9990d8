"""The online materializer on real Kafka and Redis: rows become visible, older rows never overwrite newer
ones, tombstones delete, rows that do not fit go to the dead-letter topic, metrics count, and the
process stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable

from prometheus_client import REGISTRY

from feature_pipelines.online.materializer import MaterializerTotals, OnlineMaterializer
from feature_pipelines.online.redis_store import RedisOnlineStore
from feature_pipelines.repository import customer_txn_stats
from rtml.kafka.producer import RecordProducer
from rtml.settings import Settings
from rtml.stack.ports import free_port
from schemas.feature_row import FeatureRow
from schemas.registry import codec_for
from tests.support.services import settings_env

VIEW = customer_txn_stats
TOPIC = VIEW.topic
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def wait_until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not true after {timeout_s:.0f} s"
        time.sleep(0.1)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def row(entity: str, window_end: int, count: int) -> FeatureRow:
    return FeatureRow(VIEW.name, entity, window_end - 60_000, window_end, {"count_5m": count, "sum_amount_5m": 1.5})


def test_rows_flow_to_redis_newest_wins_tombstones_delete_and_metrics_count(settings: Settings) -> None:
    t = uuid.uuid4().hex[:8]
    component = f"test-materializer-{t}"
    ids = [f"{t}-c{i}" for i in range(5)]
    now_ms = int(time.time() * 1000)
    end = now_ms - now_ms % 60_000
    store = RedisOnlineStore(settings.redis)
    producer = RecordProducer(settings, component)
    for i, entity in enumerate(ids):
        producer.send(TOPIC, entity, row(entity, end, i))
    producer.flush()
    freshness_before = metric("rtml_feature_freshness_seconds_count", view=VIEW.name)

    stop = threading.Event()
    outcome: list[MaterializerTotals | BaseException] = []
    materializer = OnlineMaterializer(
        settings, [VIEW.name], store, group=f"test-{t}", component=component, lag_interval_s=0.2
    )

    def run() -> None:
        try:
            outcome.append(materializer.run(stop))
        except BaseException as exc:  # reported by the assertion below
            outcome.append(exc)

    thread = threading.Thread(target=run, name=component, daemon=True)
    thread.start()
    try:
        wait_until(lambda: bool(store.get(VIEW, ids).found.all()))
        got = store.get(VIEW, ids)
        assert got.column("count_5m").tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
        assert got.column("sum_amount_5m").tolist() == [1.5] * 5
        assert got.window_end.tolist() == [end] * 5

        # In one partition, so in this order: an older row for c0, a tombstone for c2, a row that does
        # not fit the view (a string where a count goes), then a newer row for c1.
        codec = codec_for(TOPIC)
        bad = FeatureRow(VIEW.name, f"{t}-bad", end - 60_000, end, {"count_5m": "lots"})
        sends = [
            (ids[0], codec.encode(row(ids[0], end - 60_000, 99))),
            (ids[2], None),
            (bad.entity_id, codec.encode(bad)),
            (ids[1], codec.encode(row(ids[1], end + 60_000, 42))),
        ]
        for key, value in sends:
            producer.producer.produce(TOPIC, value=value, key=key, partition=0)
        producer.flush()
        wait_until(lambda: store.get(VIEW, [ids[1]]).window_end.tolist() == [end + 60_000])
        got = store.get(VIEW, ids)
        assert got.column("count_5m")[:2].tolist() == [0.0, 42.0]  # the older row did not overwrite c0
        assert got.found.tolist() == [True, True, False, True, True]
        assert got.window_end[0] == end

        # the counters move just after the write the store already shows: wait for them, then read them all
        wait_until(lambda: metric("rtml_materializer_rows_total", component=component, view=VIEW.name) >= 6)
        wait_until(lambda: metric("rtml_feature_freshness_seconds_count", view=VIEW.name) - freshness_before >= 6)
        assert metric("rtml_materializer_stale_rows_total", component=component, view=VIEW.name) >= 1
        assert metric("rtml_materializer_deletes_total", component=component, view=VIEW.name) >= 1
        assert metric("rtml_feature_freshness_seconds_count", view=VIEW.name) - freshness_before >= 6
        assert metric("rtml_dead_letters_total", component=component, topic=TOPIC, rule="RowEncodingError") == 1
        assert store.get(VIEW, [bad.entity_id]).found.tolist() == [False]
        lag = REGISTRY.get_sample_value("rtml_materializer_lag_records", {"component": component, "topic": TOPIC})
        assert lag is not None and lag >= 0
    finally:
        stop.set()
        thread.join(timeout=30)
        store.close()
    assert not thread.is_alive(), "the materializer did not stop within 30 s of stop.set()"
    assert len(outcome) == 1 and isinstance(outcome[0], MaterializerTotals), outcome
    assert outcome[0].applied >= 6 and outcome[0].deleted >= 1


def test_the_entry_point_serves_metrics_and_stops_on_sigterm(settings: Settings) -> None:
    port = free_port()
    group = f"test-main-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "feature_pipelines.online", "--group", group, "--metrics-port", str(port)]
    process = subprocess.Popen(
        command, cwd=ROOT, env=settings_env(settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        body = ""
        deadline = time.monotonic() + 60
        while "rtml_materializer_lag_records{" not in body:
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "no lag metric after 60 s"
            time.sleep(0.3)
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
            except OSError:
                continue
        assert 'topic="features.merchant_txn_stats"' in body
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert f"online materializer started: component=online-materializer group={group}" in output
    assert "SIGTERM received" in output
    assert f"online materializer stopped: component=online-materializer group={group}" in output

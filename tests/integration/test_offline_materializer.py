"""The offline materializer on the real broker: every record exactly once in Delta, across crashes.

Topics are shared with other tests, so each test uses its own ids, consumer group and Delta root,
and checks its own records (plus: no Kafka record twice anywhere in the tables).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client import REGISTRY

from feature_pipelines.offline.batch import app_id
from feature_pipelines.offline.delta_store import DeltaOfflineStore
from feature_pipelines.offline.materializer import FAULT_ENV, FAULT_EXIT_CODE, OfflineMaterializer
from feature_pipelines.offline.tables import utc_date
from rtml.datagen.config import GeneratorConfig
from rtml.datagen.transactions import TransactionGenerator
from rtml.kafka.clients import consumer_config
from rtml.kafka.producer import RecordProducer
from rtml.settings import Settings
from rtml.stack.ports import free_port
from schemas.dlq import parse_dead_letter_headers
from schemas.feature_row import FeatureRow
from schemas.label import Label
from schemas.transaction import Transaction
from tests.support.services import settings_env

ROOT = Path(__file__).resolve().parents[2]
VIEW = "merchant_txn_stats"
TABLES = ("events/transactions", "labels/transactions", f"features/{VIEW}")
TOPICS = ("events.transactions", "labels.transactions", f"features.{VIEW}")


@dataclass
class Sent:
    transactions: list[Transaction]
    labels: list[Label]
    rows: list[FeatureRow]


def produce(settings: Settings, n: int = 300) -> Sent:
    """``n`` transactions with their labels and ``n // 3`` feature rows, ids unique to this call."""
    seed = uuid.uuid4().int % 1_000_000_000
    sent = Sent([], [], [])
    producer = RecordProducer(settings, component="test")
    for item in TransactionGenerator(GeneratorConfig(start_ts=1_700_000_000_000, seed=seed)).events(n):
        if isinstance(item.record, Transaction):
            producer.send("events.transactions", item.key, item.record)
            sent.transactions.append(item.record)
        else:
            assert isinstance(item.record, Label)
            producer.send("labels.transactions", item.key, item.record)
            sent.labels.append(item.record)
    for i in range(n // 3):
        end = 1_700_000_000_000 + i * 300_000
        row = FeatureRow(
            view=VIEW,
            entity_id=f"m-{seed}-{i}",
            window_start=end - 3_600_000,
            window_end=end,
            values={"count_1h": i, "mean_amount_1h": i / 2, "count_24h": i, "mean_amount_24h": None},
            computed_at=end + 5,
        )
        producer.send(f"features.{VIEW}", row.entity_id, row)
        sent.rows.append(row)
    producer.flush()
    return sent


def stored(root: Path, table: str, column: str, ids: set[str]) -> list[str]:
    """Values of ``column`` in ``table`` that belong to this test (one entry per stored row)."""
    values = DeltaOfflineStore(root).read(table, columns=[column]).column(column).to_pylist()
    return [v for v in values if v in ids]


def assert_exactly_once(root: Path, sent: Sent) -> None:
    for table, column, records in (
        ("events/transactions", "event_id", [t.event_id for t in sent.transactions]),
        ("labels/transactions", "event_id", [label.event_id for label in sent.labels]),
        (f"features/{VIEW}", "entity_id", [r.entity_id for r in sent.rows]),
    ):
        counts = Counter(stored(root, table, column, set(records)))
        assert set(counts) == set(records), f"{table}: {len(set(records) - set(counts))} records missing"
        assert max(counts.values()) == 1, f"{table}: duplicated {[k for k, c in counts.items() if c > 1][:5]}"
        provenance = DeltaOfflineStore(root).read(table, columns=["_topic", "_partition", "_offset"])
        keys = Counter(zip(*(provenance.column(c).to_pylist() for c in provenance.column_names), strict=True))
        assert max(keys.values()) == 1, f"{table}: a Kafka record stored twice"


def committed_offsets(settings: Settings, group: str) -> dict[tuple[str, int], int]:
    """Kafka's committed offset per topic partition of ``group`` (negative: none)."""
    consumer = Consumer(consumer_config(settings, group))
    try:
        meta = consumer.list_topics(timeout=10)
        partitions = [TopicPartition(t, p) for t in TOPICS for p in meta.topics[t].partitions]
        return {(tp.topic, tp.partition): tp.offset for tp in consumer.committed(partitions, timeout=10)}
    finally:
        consumer.close()


def delta_ahead_of_kafka(settings: Settings, root: Path, group: str) -> list[tuple[str, int]]:
    """Partitions whose last offset in Delta is not covered by the group's committed Kafka offset."""
    store = DeltaOfflineStore(root)
    ahead = []
    for (topic, partition), offset in committed_offsets(settings, group).items():
        table = dict(zip(TOPICS, TABLES, strict=True))[topic]
        in_delta = store.committed_version(table, app_id(group, topic, partition)) if store.exists(table) else None
        if in_delta is not None and in_delta >= offset:
            ahead.append((topic, partition))
    return ahead


def materializer_cmd(root: Path, group: str, *extra: str) -> list[str]:
    args = ["--root", str(root), "--group", group, "--batch-max-records", "200", "--batch-max-seconds", "0.5"]
    # a killed member holds its partitions until its session times out: keep that short (broker minimum)
    args += ["--consumer-config", "session.timeout.ms=6000"]
    topics = [arg for topic in TOPICS for arg in ("--topic", topic)]
    return [sys.executable, "-m", "feature_pipelines.offline", *args, *topics, *extra]


def run_materializer(settings: Settings, root: Path, group: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        materializer_cmd(root, group, "--once", "--timeout", "150"),
        cwd=ROOT,
        env={**settings_env(settings), **env},
        capture_output=True,
        text=True,
        timeout=200,
    )


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_every_record_lands_once_with_its_values(settings: Settings, tmp_path: Path) -> None:
    sent = produce(settings)
    bad = FeatureRow(view=VIEW, entity_id=f"bad-{uuid.uuid4().hex[:8]}", window_start=0, window_end=1, values={"x": 1})
    producer = RecordProducer(settings, component="test")
    producer.send(f"features.{VIEW}", bad.entity_id, bad)
    deleted = f"gone-{uuid.uuid4().hex[:8]}"
    producer.producer.produce(f"features.{VIEW}", key=deleted, value=None)  # a tombstone: not a row
    producer.flush()
    rows_before = sample("rtml_offline_rows_total", table="events/transactions")

    with OfflineMaterializer(
        settings, root=tmp_path, group=f"offline-{uuid.uuid4().hex[:8]}", batch_max_records=500, batch_max_seconds=0.5
    ) as materializer:
        totals = materializer.run(once=True, timeout_s=150)

    assert_exactly_once(tmp_path, sent)
    assert totals.replayed == 0 and totals.dead_letters >= 1 and totals.tombstones >= 1
    assert sample("rtml_offline_rows_total", table="events/transactions") - rows_before >= len(sent.transactions)
    assert sample("rtml_offline_lag_records", topic="events.transactions") == 0

    store = DeltaOfflineStore(tmp_path)
    assert set(store.tables()) >= set(TABLES)
    first = sent.transactions[0]
    (row,) = store.read("events/transactions", filters=[("event_id", "=", first.event_id)]).to_pylist()
    assert {k: row[k] for k in first.__struct_fields__} == {k: getattr(first, k) for k in first.__struct_fields__}
    assert row["date"] == utc_date(first.ts) and row["_topic"] == "events.transactions"
    feature = store.read(f"features/{VIEW}", filters=[("entity_id", "=", sent.rows[3].entity_id)]).to_pylist()[0]
    assert (feature["count_1h"], feature["mean_amount_1h"], feature["mean_amount_24h"]) == (3, 1.5, None)
    assert store.read(f"features/{VIEW}", filters=[("entity_id", "=", bad.entity_id)]).num_rows == 0
    assert_dead_lettered(settings, f"dlq.features.{VIEW}", bad.entity_id, "unknown_feature")


def assert_dead_lettered(settings: Settings, topic: str, key: str, rule: str) -> None:
    consumer = Consumer(consumer_config(settings, f"dlq-{uuid.uuid4().hex[:8]}"))
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for message in consumer.consume(500, 0.5):
                if message.error() is None and message.key() == key.encode():
                    headers = parse_dead_letter_headers(message.headers())
                    assert headers["rtml.error.rule"] == rule
                    assert headers["rtml.component"] == "offline-materializer"
                    return
        raise AssertionError(f"no dead letter for {key} on {topic}")
    finally:
        consumer.close()


def test_a_crash_between_delta_and_kafka_commits_neither_duplicates_nor_loses(
    settings: Settings, tmp_path: Path
) -> None:
    sent = produce(settings)
    group = f"offline-crash-{uuid.uuid4().hex[:8]}"

    crashed = run_materializer(settings, tmp_path, group, **{FAULT_ENV: "1"})
    assert crashed.returncode == FAULT_EXIT_CODE, crashed.stderr[-2000:]
    assert "after Delta commit of" in crashed.stderr
    assert delta_ahead_of_kafka(settings, tmp_path, group)  # rows in Delta whose offsets Kafka lacks

    restarted = run_materializer(settings, tmp_path, group)
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    totals = json.loads(restarted.stdout.strip().splitlines()[-1])
    assert totals["replayed"] > 0, restarted.stderr[-2000:]
    assert "skipped" in restarted.stderr and "replayed records already in Delta" in restarted.stderr
    assert_exactly_once(tmp_path, sent)
    assert not delta_ahead_of_kafka(settings, tmp_path, group)


def test_a_restart_after_sigterm_neither_duplicates_nor_replays(settings: Settings, tmp_path: Path) -> None:
    first = produce(settings)
    group = f"offline-stop-{uuid.uuid4().hex[:8]}"
    port = free_port()
    process = subprocess.Popen(
        materializer_cmd(tmp_path, group, "--metrics-port", str(port)),
        cwd=ROOT,
        env=settings_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wanted = {t.event_id for t in first.transactions}
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and process.poll() is None:
            store = DeltaOfflineStore(tmp_path)
            if (
                store.exists("events/transactions")
                and set(stored(tmp_path, "events/transactions", "event_id", wanted)) == wanted
            ):
                break
            time.sleep(0.5)
        assert process.poll() is None, "the materializer stopped by itself"
        with urllib.request.urlopen(f"http://{settings.host}:{port}/metrics", timeout=10) as response:
            exposed = response.read().decode()
        assert 'rtml_offline_rows_total{table="events/transactions"}' in exposed
        assert 'rtml_offline_lag_records{topic="events.transactions"}' in exposed
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr[-2000:]

    second = produce(settings, n=150)
    restarted = run_materializer(settings, tmp_path, group)
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    assert json.loads(restarted.stdout.strip().splitlines()[-1])["replayed"] == 0
    assert_exactly_once(tmp_path, first)
    assert_exactly_once(tmp_path, second)


def test_the_tables_read_through_duckdb(settings: Settings, tmp_path: Path) -> None:
    sent = produce(settings, n=60)
    with OfflineMaterializer(
        settings,
        root=tmp_path,
        topics=["labels.transactions"],
        group=f"offline-{uuid.uuid4().hex[:8]}",
        batch_max_seconds=0.5,
    ) as materializer:
        materializer.run(once=True, timeout_s=150)
    con = duckdb.connect()
    con.register("labels", DeltaOfflineStore(tmp_path).dataset("labels/transactions"))
    con.register("mine", pa.table({"event_id": [label.event_id for label in sent.labels]}))
    count = con.execute(
        "SELECT count(*), count(DISTINCT (_partition, _offset)) FROM labels JOIN mine USING (event_id)"
    ).fetchone()
    assert count == (len(sent.labels), len(sent.labels))


def test_lag_counts_what_the_consumer_has_not_read(settings: Settings) -> None:
    from confluent_kafka.admin import NewTopic

    from feature_pipelines.offline.lag import consumer_lag
    from rtml.kafka.clients import admin_client, producer_config

    topic, group = f"offline.lag.{uuid.uuid4().hex[:8]}", f"lag-{uuid.uuid4().hex[:8]}"
    admin = admin_client(settings)
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(timeout=30)
    producer = Producer(producer_config(settings))
    for i in range(10):
        producer.produce(topic, b"x", partition=i % 2)
    assert producer.flush(30) == 0
    consumer = Consumer(consumer_config(settings, group))
    try:
        consumer.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
        assert consumer_lag(consumer, admin, group) == {topic: 10}
        read = 0
        deadline = time.monotonic() + 30
        while read < 4 and time.monotonic() < deadline:
            read += len(consumer.consume(4 - read, 1.0))
        assert consumer_lag(consumer, admin, group)[topic] == 10 - read
    finally:
        consumer.close()

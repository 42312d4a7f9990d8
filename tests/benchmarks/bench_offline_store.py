"""Offline store throughput: Delta appends with app transactions, and the materializer from Kafka.

1. Transactions converted to Arrow and appended in batches of 5000 through the idempotent path
   (version check, one commit per batch carrying six app transactions), then the same batches again
   (the replay path: checked and skipped), then compaction.
2. End to end: transactions and labels produced to the local broker, the offline materializer reads
   them into Delta (batches of 5000); rows/s from its first to its last non-empty batch.

Prints figures only; never asserts on timing. Run: scripts/bench -k offline
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from functools import cache
from pathlib import Path

import pytest

from feature_pipelines.offline.batch import app_id
from feature_pipelines.offline.compact import compact_all
from feature_pipelines.offline.delta_store import DeltaOfflineStore
from feature_pipelines.offline.materializer import OfflineMaterializer
from feature_pipelines.offline.tables import layout_for, to_arrow
from rtml.datagen.config import GeneratorConfig
from rtml.datagen.transactions import GeneratedRecord, TransactionGenerator
from rtml.kafka.clients import admin_client
from rtml.kafka.producer import RecordProducer
from rtml.settings import Settings
from rtml.topics import create_topics, topic_specs
from tests.support.records import received as Rec

ROWS = int(os.environ.get("RTML_BENCH_OFFLINE_ROWS", "100000"))
BATCH = 5000
PARTITIONS = 6


@cache
def generated(n: int) -> tuple[GeneratedRecord, ...]:
    return tuple(TransactionGenerator(GeneratorConfig(start_ts=1_700_000_000_000, seed=11, rate=20.0)).events(n))


def _versions(batch: list[Rec]) -> dict[str, int]:
    last: dict[int, int] = {}
    for r in batch:
        last[r.partition] = max(r.offset, last.get(r.partition, -1))
    return {app_id("bench", batch[0].topic, p): offset for p, offset in last.items()}


def _line(label: str, rows: int, seconds: float) -> None:
    print(f"{label:<52} {rows / seconds:>12,.0f} rows/s   ({rows:,} rows in {seconds:.2f} s)")


@pytest.mark.benchmark
def test_delta_append_throughput(tmp_path: Path) -> None:
    layout = layout_for("events.transactions")
    transactions = [g.record for g in generated(ROWS) if g.topic_kind == "transaction"]
    records = [Rec(layout.topic, i % PARTITIONS, i // PARTITIONS, t) for i, t in enumerate(transactions)]
    batches = [records[i : i + BATCH] for i in range(0, len(records), BATCH)]
    to_arrow(layout, batches[0][:1], ingested_at=0)  # pyarrow's first call costs seconds: not ours

    started = time.perf_counter()
    tables = [to_arrow(layout, batch, ingested_at=0).table for batch in batches]
    converted = time.perf_counter() - started

    store = DeltaOfflineStore(tmp_path)
    commit_s = []
    for batch, table in zip(batches, tables, strict=True):
        versions = _versions(batch)
        t = time.perf_counter()
        assert store.append_transactions(layout.table, table, versions).written
        commit_s.append(time.perf_counter() - t)
    appended = sum(commit_s)

    started = time.perf_counter()
    for batch, table in zip(batches, tables, strict=True):
        versions = _versions(batch)
        assert not store.append_transactions(layout.table, table, versions).written
    replayed = time.perf_counter() - started

    started = time.perf_counter()
    (result,) = compact_all(tmp_path)
    compacted = time.perf_counter() - started
    assert store.read(layout.table, columns=["_offset"]).num_rows == len(records)

    n = len(records)
    print(f"\n{n:,} transactions, batches of {BATCH}, {PARTITIONS} app transactions per commit, {os.cpu_count()} cores")
    _line("convert to Arrow (tables.to_arrow)", n, converted)
    _line("Delta append, idempotent (check + commit)", n, appended)
    _line("convert + append", n, converted + appended)
    print(
        f"{'  commit latency per batch':<52} median {statistics.median(commit_s) * 1000:.1f} ms, "
        f"max {max(commit_s) * 1000:.1f} ms"
    )
    _line("replayed batches (checked and skipped)", n, replayed)
    days = len(set(store.read(layout.table, columns=["date"]).column("date").to_pylist()))
    print(
        f"{'compaction':<52} {compacted:.2f} s: {result.files_removed} files -> {result.files_added} "
        f"({days} date partitions)"
    )


@pytest.mark.benchmark
def test_materializer_end_to_end_throughput(kafka_settings: Settings, tmp_path: Path) -> None:
    create_topics(admin_client(kafka_settings), topic_specs(kafka_settings))
    records = generated(ROWS)
    producer = RecordProducer(kafka_settings, component="bench")
    for item in records:
        topic = "events.transactions" if item.topic_kind == "transaction" else "labels.transactions"
        producer.send(topic, item.key, item.record)
    producer.flush(120)

    materializer = OfflineMaterializer(
        kafka_settings,
        root=tmp_path,
        topics=["events.transactions", "labels.transactions"],
        group=f"bench-offline-{uuid.uuid4().hex[:6]}",
        batch_max_records=BATCH,
        batch_max_seconds=1.0,
    )
    rows = batches = 0
    first = last = 0.0
    try:
        deadline = time.monotonic() + 600
        while rows < len(records) and time.monotonic() < deadline:
            began = time.perf_counter()
            stats = materializer.step()
            if stats.records:
                first = first or began
                last = time.perf_counter()
                rows += stats.rows
                batches += 1
    finally:
        materializer.close()
    assert rows == len(records)
    print(f"\n{rows:,} records (transactions + labels) from Kafka into 2 Delta tables, {batches} batches")
    _line("offline materializer, Kafka -> Delta (exactly-once)", rows, last - first)

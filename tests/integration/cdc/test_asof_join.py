"""The event-time temporal join: each transaction is joined with the customer's row as it was at the
transaction's time. A credit limit updated in PostgreSQL between two transactions gives each its own limit in the
feature rows (Debezium -> cdc.bank.customers -> the feature job's as-of join, a bounded run)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from rtml.kafka.clients import admin_client, consumer_config, producer_config
from rtml.settings import Settings
from rtml.stack.postgres import PostgresService
from schemas import codec_for
from schemas.codec import RecordCodec
from schemas.transaction import Transaction
from tests.support import cdc_views
from tests.support.cdc import of_key, read_changes
from tests.support.services import settings_env

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
VIEW = cdc_views.limit_usage


def transaction(customer: str, ts: int, amount: float) -> Transaction:
    return Transaction(
        event_id=f"tx-{uuid.uuid4().hex[:12]}",
        ts=ts,
        customer_id=customer,
        merchant_id="merch-00001",
        merchant_category="grocery",
        amount=amount,
        currency="EUR",
        country="DE",
        device_id="dev-1",
        channel="pos",
    )


def read_rows(settings: Settings, topic: str) -> list[object]:
    codec = codec_for(topic)
    consumer = Consumer(consumer_config(settings, f"read-{uuid.uuid4().hex[:8]}"))
    consumer.assign([TopicPartition(topic, 0, 0)])
    rows, idle = [], 0
    while idle < 4:
        batch = [m for m in consumer.consume(1000, 1.0) if m.error() is None and m.value() is not None]
        idle = 0 if batch else idle + 1
        rows += [codec.decode(m.value()) for m in batch]
    consumer.close()
    return rows


def test_each_transaction_sees_the_limit_that_held_at_its_time(cdc_settings: Settings) -> None:
    settings = cdc_settings
    admin = admin_client(settings)
    topics = [cdc_views.TOPIC, f"dlq.{cdc_views.TOPIC}", VIEW.topic]
    for future in admin.create_topics([NewTopic(t, 1, 1) for t in topics]).values():
        future.result(30)
    key = f"cust-j-{uuid.uuid4().hex[:8]}"
    psql = PostgresService(settings).psql()
    codec = RecordCodec(Transaction)
    producer = Producer(producer_config(settings))

    # a seeded customer's row as Debezium's snapshot read it: it held before anything was recorded, so a
    # payment an hour before the snapshot joins it too (not "no row")
    seeded = "cust-000003"
    (snapshot,) = [
        c
        for c in of_key(read_changes(settings, "cdc.bank.customers", lambda got: bool(of_key(got, seeded))), seeded)
        if c.op == "r"
    ]
    assert snapshot.value is not None
    old = transaction(seeded, int(time.time() * 1000) - 3_600_000, 50.0)
    producer.produce(cdc_views.TOPIC, codec.encode(old), key=seeded.encode())

    psql.run(f"INSERT INTO bank.customers VALUES ('{key}', 'student', 'DE', 1000, '2024-05-01 10:00:00', '{{}}')")
    read_changes(settings, "cdc.bank.customers", lambda got: len(of_key(got, key)) >= 1)
    first = transaction(key, int(time.time() * 1000), 100.0)  # after the insert's commit: limit 1000
    producer.produce(cdc_views.TOPIC, codec.encode(first), key=key.encode())
    assert producer.flush(30) == 0
    time.sleep(1.5)

    psql.run(f"UPDATE bank.customers SET credit_limit = 4000 WHERE id = '{key}'")
    read_changes(settings, "cdc.bank.customers", lambda got: len(of_key(got, key)) >= 2)
    time.sleep(1.5)
    second = transaction(key, int(time.time() * 1000), 100.0)  # after the update's commit: limit 4000
    producer.produce(cdc_views.TOPIC, codec.encode(second), key=key.encode())
    assert producer.flush(30) == 0

    argv = [sys.executable, "-m", "stream_jobs.feature_job", "--bounded", "--definitions", "tests.support.cdc_views"]
    job = subprocess.run(argv, cwd=ROOT, env=settings_env(settings), capture_output=True, text=True, timeout=600)
    assert job.returncode == 0, job.stderr[-3000:]

    rows = {row.window_end: row for row in read_rows(settings, VIEW.topic) if row.entity_id == key}  # type: ignore[attr-defined]
    assert len(rows) == 2, rows
    early, late = (rows[end] for end in sorted(rows))
    assert early.window_start <= first.ts < early.window_end and late.window_start <= second.ts < late.window_end
    assert early.values["max_credit_limit_1s"] == 1000.0
    assert early.values["max_amount_to_limit_1s"] == pytest.approx(0.1)
    assert late.values["max_credit_limit_1s"] == 4000.0
    assert late.values["max_amount_to_limit_1s"] == pytest.approx(0.025)
    (before,) = [row for row in read_rows(settings, VIEW.topic) if row.entity_id == seeded]  # type: ignore[attr-defined]
    assert before.window_start <= old.ts < before.window_end
    assert before.values["max_credit_limit_1s"] == pytest.approx(snapshot.value["after"]["credit_limit"])

"""CDC into the online store through Flink: PostgreSQL -> Debezium -> cdc.bank.customers -> the feature job's
``customer_profile`` changelog view (debezium-json) -> features.customer_profile -> the online materializer ->
Redis. An UPDATE shows in Redis within a bounded time, a DELETE removes the entity, the snapshot's rows are there,
and a malformed change record goes to the dead-letter topic instead of the store."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from feature_pipelines.online.redis_store import RedisOnlineStore
from feature_pipelines.online.store import OnlineFeatures
from feature_pipelines.repository import FEATURE_VIEWS
from rtml.kafka.clients import admin_client, consumer_config, producer_config
from rtml.settings import Settings
from rtml.stack.postgres import PostgresService
from rtml.stack.supervisor import Stack
from rtml.topics import create_topics, topic_specs
from tests.integration.cdc.test_debezium import seeded
from tests.support.cdc import running_pipelines

pytestmark = pytest.mark.integration

VIEW = "customer_profile"
CUSTOMERS = "cdc.bank.customers"


@pytest.fixture(scope="module")
def store(cdc_stack: Stack) -> Iterator[RedisOnlineStore]:
    """Redis, the topics, the feature job and the online materializer on the CDC stack; stopped afterwards."""
    settings = cdc_stack.settings
    redis = cdc_stack.services["redis"]
    redis.start()
    create_topics(admin_client(settings), topic_specs(settings))
    try:
        with running_pipelines(settings, ["features", "online"]):
            yield RedisOnlineStore.from_url(settings.redis, FEATURE_VIEWS)
    finally:
        redis.stop()


def sql(settings: Settings, text: str) -> None:
    PostgresService(settings).psql().run(text)


def wait_for(store: RedisOnlineStore, key: str, ok: Callable[[OnlineFeatures], bool], timeout_s: float = 90) -> float:
    """Seconds until ``ok`` holds for ``key``'s profile; AssertionError with the last read after ``timeout_s``."""
    start = time.monotonic()
    while True:
        got = store.get(VIEW, [key])
        if ok(got):
            return time.monotonic() - start
        if time.monotonic() - start > timeout_s:
            values = dict(zip(got.feature_names, got.values[0], strict=True))
            raise AssertionError(f"{key}: found={got.found[0]} values={values}")
        time.sleep(0.2)


def value(got: OnlineFeatures, feature: str) -> float:
    return float(got.column(feature)[0])


def test_a_seeded_customer_has_its_profile_from_the_snapshot(cdc_settings: Settings, store: RedisOnlineStore) -> None:
    customer = seeded(cdc_settings)[0][0]
    wait_for(store, customer.id, lambda got: bool(got.found[0]))
    # as the database holds it now (other tests of the session may have changed the seeded rows since)
    row = (
        PostgresService(cdc_settings)
        .psql()
        .value(
            "SELECT credit_limit || ',' || cardinality(risk_flags) || ',' || "
            f"(extract(epoch FROM account_opened_at) * 1000)::bigint FROM bank.customers WHERE id = '{customer.id}'"
        )
    )
    assert row is not None
    limit, flags, opened = row.split(",")
    wait_for(store, customer.id, lambda got: value(got, "credit_limit") == float(limit))
    got = store.get(VIEW, [customer.id])
    assert value(got, "risk_flag_count") == int(flags)
    assert value(got, "account_opened_at") == int(opened) == customer.account_opened_at


def test_insert_update_delete_reach_redis(cdc_settings: Settings, store: RedisOnlineStore) -> None:
    key = f"cust-p-{uuid.uuid4().hex[:8]}"
    sql(
        cdc_settings,
        f"INSERT INTO bank.customers VALUES ('{key}', 'student', 'DE', 500, '2024-05-01 10:00:00', '{{}}')",
    )
    wait_for(store, key, lambda got: bool(got.found[0]) and value(got, "credit_limit") == 500.0)
    inserted_at = int(store.get(VIEW, [key]).window_end[0])

    committed = time.time()
    sql(
        cdc_settings,
        f"UPDATE bank.customers SET credit_limit = 750.5, risk_flags = '{{kyc,chargeback}}' WHERE id = '{key}'",
    )
    seconds = wait_for(store, key, lambda got: value(got, "credit_limit") == 750.5)
    got = store.get(VIEW, [key])
    assert value(got, "risk_flag_count") == 2
    assert inserted_at < got.window_end[0] <= time.time() * 1000  # the update's commit time
    assert got.window_end[0] >= committed * 1000 - 1000
    print(f"update -> Redis in {seconds:.2f} s")

    sql(cdc_settings, f"DELETE FROM bank.customers WHERE id = '{key}'")
    wait_for(store, key, lambda got: not got.found[0])


def test_malformed_changes_go_to_the_dead_letter_topic(cdc_settings: Settings, store: RedisOnlineStore) -> None:
    bad_key = f"cust-bad-{uuid.uuid4().hex[:8]}"
    good_key = f"cust-ok-{uuid.uuid4().hex[:8]}"
    source = {
        "version": "3.4.3.Final",
        "connector": "postgresql",
        "name": "cdc",
        "ts_ms": int(time.time() * 1000),
        "db": "bank",
        "schema": "bank",
        "table": "customers",
    }

    def envelope(key: str, limit: float) -> bytes:
        row = {
            "id": key,
            "segment": "student",
            "country": "DE",
            "credit_limit": limit,
            "account_opened_at": 1_714_557_600_000,
            "risk_flags": [],
        }
        return json.dumps(
            {"before": None, "after": row, "source": source, "op": "c", "ts_ms": source["ts_ms"]}
        ).encode()

    producer = Producer(producer_config(cdc_settings))
    producer.produce(CUSTOMERS, key=json.dumps({"id": "garbage"}).encode(), value=b"{not json")
    producer.produce(CUSTOMERS, key=json.dumps({"id": bad_key}).encode(), value=envelope(bad_key, -5.0))
    producer.produce(CUSTOMERS, key=json.dumps({"id": good_key}).encode(), value=envelope(good_key, 1200.0))
    assert producer.flush(30) == 0

    wait_for(store, good_key, lambda got: bool(got.found[0]) and value(got, "credit_limit") == 1200.0)
    assert not store.get(VIEW, [bad_key]).found[0], "a row breaking credit_limit >= 0 was applied"
    letters = dead_letters(cdc_settings, "dlq." + CUSTOMERS, lambda got: {"json", "ge"} <= set(got.values()))
    rules = set(letters.values())
    assert {"json", "ge"} <= rules, letters
    assert letters[b"{not json"] == "json"


def dead_letters(settings: Settings, topic: str, done: Callable[[dict[bytes, str]], bool]) -> dict[bytes, str]:
    """value -> rule header of the dead letters on ``topic`` (read_committed), until ``done``."""
    consumer = Consumer(consumer_config(settings, f"test-dlq-{uuid.uuid4().hex[:8]}"))
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    found: dict[bytes, str] = {}
    deadline = time.monotonic() + 90
    try:
        while not done(found) and time.monotonic() < deadline:
            for message in consumer.consume(100, timeout=0.5):
                if message.error() is None and message.value() is not None:
                    headers = dict(message.headers() or [])
                    found[message.value()] = headers.get("rtml.error.rule", b"").decode()
    finally:
        consumer.close()
    return found

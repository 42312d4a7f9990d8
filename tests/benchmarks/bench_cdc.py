"""CDC figures: how long `rtml up` takes with PostgreSQL and Kafka Connect (Debezium), fresh and again after
`rtml down`, the lag from a PostgreSQL commit to its Debezium record in Kafka for a few hundred updates, and from
a commit to the row in Redis (through the feature job's changelog view) for a thousand.

Lag is measured against ``source.ts_us`` (the commit time PostgreSQL wrote in the WAL) twice: to the Kafka
record's timestamp (when Connect produced it) and to when a read_committed consumer got it (so it includes
the exactly-once transaction commit). Prints p50/p99/max; never asserts on timing. Run: scripts/bench -k cdc
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
import uuid

from confluent_kafka import Consumer, TopicPartition

from rtml.kafka.clients import consumer_config
from rtml.settings import Settings
from rtml.stack.postgres import PostgresService
from tests.support.cli import run_rtml
from tests.support.services import isolated_settings, postgres_reachable_dir, settings_env

UPDATES = int(os.environ.get("RTML_BENCH_CDC_UPDATES", "300"))
PAUSE_S = 0.01  # between updates: a steady trickle, not one burst
WARM_UP = 5  # single updates, each awaited, before the measured ones
TOPIC = "cdc.bank.customers"


def _timed(env: dict[str, str], *args: str) -> float:
    began = time.perf_counter()
    done = run_rtml(env, *args, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return time.perf_counter() - began


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class _Tail(threading.Thread):
    """Reads the topic from the start; keeps (commit µs, record ms, received s) of every update to ``key``."""

    def __init__(self, settings: Settings, key: str) -> None:
        super().__init__(daemon=True)
        self.settings, self.key = settings, key
        self.caught_up = threading.Event()
        self.stop = threading.Event()
        self.seen: list[tuple[int, int, float]] = []

    def run(self) -> None:
        consumer = Consumer(
            consumer_config(self.settings, f"bench-cdc-{uuid.uuid4().hex[:6]}", **{"fetch.wait.max.ms": 5})
        )
        partitions = consumer.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions
        consumer.assign([TopicPartition(TOPIC, p, 0) for p in partitions])
        ends = {p: consumer.get_watermark_offsets(TopicPartition(TOPIC, p))[1] for p in partitions}
        try:
            while not self.stop.is_set():
                for message in consumer.consume(500, timeout=0.05):
                    if message.error():
                        continue
                    value = message.value()
                    if value is not None and json.loads(message.key()).get("id") == self.key:
                        event = json.loads(value)
                        if event["op"] == "u":
                            self.seen.append((event["source"]["ts_us"], message.timestamp()[1], time.time()))
                if not self.caught_up.is_set():
                    # position() moves past transaction markers too, which a consumer never sees as records
                    positions = consumer.position([TopicPartition(TOPIC, p) for p in partitions])
                    if all(ends[tp.partition] == 0 or tp.offset >= ends[tp.partition] for tp in positions):
                        self.caught_up.set()
        finally:
            consumer.close()


def test_cdc_up_time_and_commit_to_kafka_lag() -> None:
    with postgres_reachable_dir("rtml-bench-cdc-") as data_dir:
        settings = isolated_settings(data_dir)
        env = settings_env(settings)
        try:
            fresh = _timed(env, "up")
            status = run_rtml(env, "status")
            connect_line = next(line for line in status.stdout.splitlines() if "connect" in line)
            _timed(env, "down")
            again = _timed(env, "up")
            single, cold, warm = _lags(settings)
        finally:
            run_rtml(env, "down", timeout=300)
    print(
        f"\n[cdc] rtml up (kafka, redis, prometheus, postgres, connect): fresh {fresh:.1f} s (initdb, seed, "
        f"snapshot included), after rtml down {again:.1f} s"
    )
    print(f"[cdc] rtml status: {' '.join(connect_line.split())}")
    first = ", ".join(f"{(ms - us / 1000):.0f}" for us, ms, _ in single)
    print(f"[cdc] first {len(single)} updates after the start, one at a time, commit -> Kafka record (ms): {first}")
    for burst, lags in (("first burst", cold), ("second burst", warm)):
        to_record = [record_ms - ts_us / 1000 for ts_us, record_ms, _ in lags]
        to_consumer = [received_s * 1000 - ts_us / 1000 for ts_us, _, received_s in lags]
        print(f"[cdc] {burst}: {len(lags)} of {UPDATES} updates seen, one commit each, {PAUSE_S * 1000:.0f} ms apart")
        for name, values in (("commit -> Kafka record", to_record), ("commit -> consumer", to_consumer)):
            print(
                f"[cdc]   {name}: p50 {statistics.median(values):.1f} ms, p99 {_quantile(values, 0.99):.1f} ms, "
                f"max {max(values):.1f} ms"
            )
    assert len(cold) == len(warm) == UPDATES


Seen = list[tuple[int, int, float]]


def _lags(settings: Settings) -> tuple[Seen, Seen, Seen]:
    """(single updates right after the start, a first burst, a second burst): Debezium reads the table's schema
    on the first change and the JVM compiles its hot paths during the first burst, so each is reported apart."""
    key = "cust-000002"
    tail = _Tail(settings, key)
    tail.start()
    assert tail.caught_up.wait(120), "the reader did not reach the end of the topic"
    psql = PostgresService(settings).psql()

    def updates(first: int, n: int) -> list[tuple[int, int, float]]:
        before = len(tail.seen)
        update = f"UPDATE bank.customers SET credit_limit = {{}} WHERE id = '{key}'; SELECT pg_sleep({PAUSE_S});\n"
        psql.run("".join(update.format(first + i) for i in range(n)), timeout_s=300)
        deadline = time.monotonic() + 60
        while len(tail.seen) < before + n and time.monotonic() < deadline:
            time.sleep(0.05)
        return tail.seen[before:]

    try:
        single = [updates(10_000 + i, 1)[0] for i in range(WARM_UP)]
        return single, updates(20_000, UPDATES), updates(30_000, UPDATES)
    finally:
        tail.stop.set()
        tail.join(10)


REDIS_UPDATES = int(os.environ.get("RTML_BENCH_CDC_REDIS_UPDATES", "1000"))
POLL_S = (
    0.1  # between reads of the waiting keys from Redis (each read decodes them all: it costs CPU the pipeline shares)
)


def test_cdc_commit_to_redis_lag() -> None:
    """Commit in PostgreSQL -> the row in Redis, through Debezium, the feature job's changelog view and the online
    materializer: ``REDIS_UPDATES`` updates, one commit each, ``PAUSE_S`` apart, each to another customer. The
    commit time is the row's ``window_end`` (Debezium's ``source.ts_ms``); the arrival is when a reader polling
    Redis every ``POLL_S`` first sees the new value, so the figures carry up to that much of the poll's resolution."""
    from feature_pipelines.online.redis_store import RedisOnlineStore
    from feature_pipelines.repository import FEATURE_VIEWS
    from rtml.datagen.bank import bank_rows
    from rtml.datagen.config import GeneratorConfig
    from rtml.kafka.clients import admin_client
    from rtml.topics import create_topics, topic_specs
    from tests.support.cdc import running_pipelines
    from tests.support.services import running_stack

    with postgres_reachable_dir("rtml-bench-cdc-redis-") as data_dir:
        settings = isolated_settings(data_dir, bank_customers=max(REDIS_UPDATES, 1000))
        with running_stack(settings, ["kafka", "redis", "postgres", "connect"]):
            create_topics(admin_client(settings), topic_specs(settings))
            with running_pipelines(settings, ["features", "online"]):
                store = RedisOnlineStore.from_url(settings.redis, FEATURE_VIEWS)
                config = GeneratorConfig(start_ts=0, seed=settings.bank_seed, n_customers=settings.bank_customers)
                ids = [c.id for c in bank_rows(config)[0][:REDIS_UPDATES]]
                _wait_for_snapshot(store, ids)
                bursts = [_update_and_watch(settings, store, ids, first_limit=f) for f in (900_000.0, 800_000.0)]
    for name, arrived in zip(("first burst", "second burst"), bursts, strict=True):
        _report_redis_lag(name, arrived, settings)
    assert all(len(arrived) == len(ids) for arrived in bursts)


def _report_redis_lag(name: str, arrived: dict[str, tuple[float, float]], settings: Settings) -> None:
    lags = [seen_ms - commit_ms for commit_ms, seen_ms in arrived.values()]
    by_commit = [seen - commit for commit, seen in sorted(arrived.values())]
    span_s = (max(c for c, _ in arrived.values()) - min(c for c, _ in arrived.values())) / 1000
    tenth = max(1, len(by_commit) // 10)
    print(
        f"\n[cdc] commit -> Redis, {name} (Debezium, the Flink changelog view with checkpoints every "
        f"{settings.flink_checkpoint_interval_s:.0f} s, the online materializer): {len(lags)} updates, one commit "
        f"each, over {span_s:.1f} s ({len(by_commit) / max(span_s, 1e-9):.0f}/s): p50 {statistics.median(lags):.0f} "
        f"ms, p99 {_quantile(lags, 0.99):.0f} ms, max {max(lags):.0f} ms; p50 per tenth in commit order: "
        + " ".join(f"{statistics.median(by_commit[i : i + tenth]):.0f}" for i in range(0, len(by_commit), tenth))
    )


def _wait_for_snapshot(store: object, ids: list[str], timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if store.get("customer_profile", ids).found.all():  # type: ignore[attr-defined]
            return
        time.sleep(0.5)
    raise AssertionError("the snapshot's profiles did not all reach Redis")


def _update_and_watch(
    settings: Settings, store: object, ids: list[str], first_limit: float, timeout_s: float = 300
) -> dict[str, tuple[float, float]]:
    """Run the updates in a thread; poll Redis until every id holds its new limit. id -> (commit ms, seen ms)."""
    wanted = {key: first_limit + i for i, key in enumerate(ids)}
    statements = "".join(
        f"UPDATE bank.customers SET credit_limit = {limit} WHERE id = '{key}'; SELECT pg_sleep({PAUSE_S});\n"
        for key, limit in wanted.items()
    )
    writer = threading.Thread(
        target=PostgresService(settings).psql().run, args=(statements,), kwargs={"timeout_s": 600}
    )
    writer.start()
    arrived: dict[str, tuple[float, float]] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while len(arrived) < len(ids) and time.monotonic() < deadline:
            waiting = [key for key in ids if key not in arrived]
            got = store.get("customer_profile", waiting)  # type: ignore[attr-defined]
            now_ms = time.time() * 1000
            limits = got.column("credit_limit")
            for i, key in enumerate(waiting):
                if got.found[i] and limits[i] == wanted[key]:
                    arrived[key] = (float(got.window_end[i]), now_ms)
            time.sleep(POLL_S)
    finally:
        writer.join(600)
    return arrived

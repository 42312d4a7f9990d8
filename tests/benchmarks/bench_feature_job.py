"""Flink feature job throughput, parallelism 1, Kafka in -> features.* out (exactly-once sinks).

The events' event time advances at a stated rate close to the input rate, so the figure measures
input (Kafka read, JSON parse, schema rules in SQL, window state), not window emission: a replay
whose event time races far ahead of wall-clock time fires keys x windows rows per slide and measures
something else. Sustained events/s = records read / (time of the last read - time of the first), the counts
read from the Flink REST API (the source operator's numRecordsOut), polled every 0.1 s; the committed group
offsets (committed on each checkpoint, every 2 s) only tell when the output of every record is committed.
Run: scripts/bench -k feature_job   (RTML_BENCH_FLINK_EVENTS to change the size; RTML_BENCH_FLINK_CMD to
run a variant of the job, e.g. "path/to/variant.py", in place of "-m stream_jobs.feature_job")
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from rtml.datagen.config import GeneratorConfig
from rtml.datagen.transactions import TransactionGenerator
from rtml.kafka.clients import check_reachable, consumer_config
from rtml.kafka.producer import RecordProducer
from rtml.settings import Settings
from rtml.topics import create_topics, topic_specs
from schemas.registry import codec_for
from tests.support.services import settings_env

EVENTS = int(os.environ.get("RTML_BENCH_FLINK_EVENTS", "1000000"))  # fewer measure the JIT warming up
EVENT_RATE = 20_000  # events per second of event time


def _source_records(rest: str, source: str) -> int:
    """Records the job's Kafka source ``source`` has read so far (Flink REST, the source operator's
    ``numRecordsOut``); 0 before the job runs."""
    try:
        (job,) = [j["id"] for j in _get(f"{rest}/jobs")["jobs"] if j["status"] == "RUNNING"]
        vertex = next(v for v in _get(f"{rest}/jobs/{job}")["vertices"] if v["name"].startswith(f"Source: {source}["))
        url = f"{rest}/jobs/{job}/vertices/{vertex['id']}/metrics"
        name = next(m["id"] for m in _get(url) if re.fullmatch(rf"0\.Source__{source}\[\d+\]\.numRecordsOut", m["id"]))
        return int(float(_get(f"{url}?get={name}")[0]["value"]))
    except (OSError, ValueError, KeyError, IndexError, StopIteration):  # not up yet, or no metric yet
        return 0


def _get(url: str):  # type: ignore[no-untyped-def]
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def _committed(reader: Consumer, topic: str) -> int:
    """The group's committed offsets, summed (a reader with the group id that never joins it)."""
    partitions = reader.list_topics(topic, timeout=10).topics[topic].partitions
    try:
        committed = reader.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
    except KafkaException:  # the group's coordinator is still being elected
        return 0
    return sum(max(tp.offset, 0) for tp in committed)


@pytest.mark.benchmark
def test_feature_job_sustained_throughput(kafka_settings: Settings) -> None:
    settings = kafka_settings
    create_topics(check_reachable(settings), topic_specs(settings))
    codec = codec_for("events.transactions")
    producer = RecordProducer(settings, component="bench")
    start_ts = int(time.time() * 1000) - EVENTS * 1000 // EVENT_RATE
    config = GeneratorConfig(start_ts=start_ts, seed=9, rate=EVENT_RATE, daily_cycle=False, fraud_rate=0.01)
    sent = 0
    for item in TransactionGenerator(config).events(EVENTS):
        if item.topic_kind == "transaction":
            producer.send_raw("events.transactions", item.key, codec.encode(item.record))
            sent += 1
    producer.flush(120)
    job = subprocess.Popen(
        [sys.executable, *os.environ.get("RTML_BENCH_FLINK_CMD", "-m stream_jobs.feature_job").split()],
        env=settings_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    reader = Consumer(consumer_config(settings, "rtml-feature-job"))
    rest = f"http://{settings.host}:{settings.flink_rest_port}"
    read: list[tuple[float, int]] = []  # (monotonic time, records the source has read) at each change
    try:
        launched = time.monotonic()
        committed = 0
        while time.monotonic() - launched < 600 and committed < sent:
            count = _source_records(rest, "src_transactions")
            now = time.monotonic()
            if count and (not read or count > read[-1][1]):
                read.append((now, count))
            if count >= sent:
                committed = _committed(reader, "events.transactions")
            time.sleep(0.1 if count < sent else 0.5)
        done = time.monotonic()
    finally:
        reader.close()
        os.killpg(job.pid, 15)
        job.wait(60)
    assert read, "the job read no record"
    first, last = read[0], read[-1]
    rate = (last[1] - first[1]) / max(last[0] - first[0], 1e-9)
    # the second half of the records: the JIT has compiled the job's generated code by then (its compiler
    # threads take more CPU than the source's own thread during the first 20 s)
    half = next(r for r in read if r[1] >= first[1] + (last[1] - first[1]) / 2)
    warm = (last[1] - half[1]) / max(last[0] - half[0], 1e-9)
    from feature_pipelines.repository import FEATURE_VIEWS

    views = ", ".join(FEATURE_VIEWS)  # the deployed job: every view (the changelog ones idle here: no CDC traffic)
    print(
        f"\nFlink feature job, parallelism 1, views {views}, exactly-once sinks, {sent:,} events "
        f"at {EVENT_RATE:,} events/s of event time:\n"
        f"  read {rate:,.0f} events/s (source records {first[1]:,} -> {last[1]:,} in {last[0] - first[0]:.1f} s), "
        f"{warm:,.0f} events/s over the second half (JIT warm); first record read {first[0] - launched:.1f} s after "
        f"launch (JVM + job start); offsets of all {sent:,} committed {done - last[0]:.1f} s after the last read "
        f"(the next checkpoint): {committed >= sent}"
    )

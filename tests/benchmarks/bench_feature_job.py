"""Flink feature job throughput, parallelism 1, Kafka in -> features.* out (exactly-once sinks).

The events' event time advances at a stated rate close to the input rate, so the figure measures
input (Kafka read, JSON parse, schema rules in SQL, window state), not window emission: a replay
whose event time races far ahead of wall-clock time fires keys x windows rows per slide and measures
something else. Sustained events/s = events / (time of the last offset commit - time of the first),
read from the job's committed group offsets (committed on each checkpoint, every 2 s).
Run: scripts/bench -k feature_job   (RTML_BENCH_FLINK_EVENTS to change the size; RTML_BENCH_FLINK_CMD to
run a variant of the job, e.g. "path/to/variant.py", in place of "-m stream_jobs.feature_job")
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

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

EVENTS = int(os.environ.get("RTML_BENCH_FLINK_EVENTS", "100000"))
EVENT_RATE = 20_000  # events per second of event time


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
    try:
        launched = time.monotonic()
        first = last = None
        seen = 0
        while time.monotonic() - launched < 600 and seen < sent:
            seen = max(seen, _committed(reader, "events.transactions"))
            now = time.monotonic()
            if seen and first is None:
                first = (now, seen)
            if seen:
                last = (now, seen)
            time.sleep(0.5)
    finally:
        reader.close()
        os.killpg(job.pid, 15)
        job.wait(60)
    assert first is not None and last is not None, "the job committed no offsets"
    rate = (last[1] - first[1]) / max(last[0] - first[0], 1e-9)
    from feature_pipelines.repository import FEATURE_VIEWS

    views = ", ".join(FEATURE_VIEWS)  # the deployed job: every view (the changelog ones idle here: no CDC traffic)
    print(
        f"\nFlink feature job, parallelism 1, views {views}, exactly-once sinks, {sent:,} events "
        f"at {EVENT_RATE:,} events/s of event time:\n"
        f"  sustained {rate:,.0f} events/s (offsets {first[1]:,} -> {last[1]:,} in {last[0] - first[0]:.1f} s), "
        f"first commit {first[0] - launched:.1f} s after launch (JVM + job start), caught up: {seen >= sent}"
    )

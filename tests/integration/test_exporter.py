"""The exporter on the session's Kafka and Redis: a group's lag is end offset minus committed, per topic;
a service that does not answer shows as ``*_up 0`` with one clear line; ``rtml up`` runs it as a service."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest
import redis
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import NewTopic
from prometheus_client.parser import text_string_to_metric_families

from rtml.kafka.clients import admin_client, consumer_config, producer_config
from rtml.settings import Settings
from rtml.stack.exporter import ExporterService
from rtml.stack.ports import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def export_once(bootstrap: str, redis_url: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "rtml.exporter", "--once", "--bootstrap", bootstrap, "--redis", redis_url]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture
def lagging_group(settings: Settings) -> tuple[str, str]:
    """A topic with 12 + 8 records and a group that committed 10 and 8: lag 2."""
    run = uuid.uuid4().hex[:8]
    topic, group = f"exporter-{run}", f"exporter-group-{run}"
    admin = admin_client(settings)
    for future in admin.create_topics([NewTopic(topic, 2, 1)]).values():
        future.result(30)
    producer = Producer(producer_config(settings))
    for partition, count in ((0, 12), (1, 8)):
        for i in range(count):
            producer.produce(topic, value=f"{i}".encode(), partition=partition)
    assert producer.flush(30) == 0
    consumer = Consumer(consumer_config(settings, group))
    consumer.commit(offsets=[TopicPartition(topic, 0, 10), TopicPartition(topic, 1, 8)], asynchronous=False)
    consumer.close()
    return topic, group


def test_lag_of_a_group_per_topic(settings: Settings, lagging_group: tuple[str, str]) -> None:
    topic, group = lagging_group
    redis.Redis.from_url(settings.redis).set(f"exporter-probe-{group}", "1")
    done = export_once(settings.kafka_bootstrap, settings.redis)
    assert done.returncode == 0, done.stderr
    got = parse(done.stdout)
    key = (("consumergroup", group), ("topic", topic))
    assert got[("kafka_consumergroup_lag_sum", key)] == 2
    assert got[("kafka_consumergroup_current_offset_sum", key)] == 18
    assert got[("kafka_consumergroup_members", (("consumergroup", group),))] == 0
    assert got[("kafka_topic_partition_current_offset", (("partition", "0"), ("topic", topic)))] == 12
    assert got[("kafka_topic_partitions", (("topic", topic),))] == 2
    assert got[("kafka_up", ())] == 1 and got[("kafka_brokers", ())] == 1
    assert got[("redis_up", ())] == 1
    assert got[("redis_db_keys", (("db", "db0"),))] >= 1
    assert got[("redis_commands_processed_total", ())] > 0


def test_a_service_down_is_up_0_and_one_line(settings: Settings) -> None:
    done = export_once(settings.kafka_bootstrap, f"redis://127.0.0.1:{free_port()}/0")
    assert done.returncode == 1
    got = parse(done.stdout)
    assert got[("redis_up", ())] == 0 and got[("kafka_up", ())] == 1
    assert not any(name.startswith("redis_") and name != "redis_up" for name, _ in got)
    assert "Redis at" in done.stderr and "did not answer" in done.stderr
    assert "Traceback" not in done.stderr


def test_stack_service_serves_and_registers(settings: Settings, lagging_group: tuple[str, str]) -> None:
    topic, group = lagging_group
    service = ExporterService(settings)
    try:
        service.start()
        with urllib.request.urlopen(service.address, timeout=10) as response:
            got = parse(response.read().decode())
        assert got[("kafka_consumergroup_lag_sum", (("consumergroup", group), ("topic", topic)))] == 2
        target = settings.state_dir / "prometheus" / "targets" / "rtml-exporter.json"
        assert f"{settings.host}:{settings.exporter_port}" in target.read_text()
    finally:
        assert service.stop()
    assert service.process.pid() is None

"""Topic contracts created on a real broker, idempotently, with their policies."""

from __future__ import annotations

import time

from confluent_kafka.admin import ConfigResource

from rtml.kafka.clients import admin_client
from rtml.settings import Settings
from rtml.topics import create_topics, topic_specs


def _config(settings: Settings, topic: str) -> dict[str, str]:
    resource = ConfigResource("topic", topic)
    admin = admin_client(settings)  # keep the client alive until the future resolves
    entries = admin.describe_configs([resource])[resource].result(timeout=10)
    return {name: entry.value for name, entry in entries.items()}


def test_every_contract_topic_exists_with_its_partitions(settings: Settings) -> None:
    topics = admin_client(settings).list_topics(timeout=10).topics
    for spec in topic_specs(settings):
        assert spec.name in topics, spec.name
        assert len(topics[spec.name].partitions) == spec.partitions, spec.name


def test_feature_topics_are_compacted_and_events_are_retained(settings: Settings) -> None:
    assert _config(settings, "features.customer_txn_stats")["cleanup.policy"] == "compact"
    events = _config(settings, "events.transactions")
    assert events["cleanup.policy"] == "delete"
    assert events["retention.ms"] == str(7 * 86_400_000)
    assert _config(settings, "models.updates")["cleanup.policy"] == "compact"


def test_create_twice_changes_nothing(settings: Settings) -> None:
    results = create_topics(admin_client(settings), topic_specs(settings))
    assert {r.action for r in results} == {"exists"}


def test_create_repairs_a_drifted_config(settings: Settings) -> None:
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry

    admin = admin_client(settings)
    entry = ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET)
    for future in admin.incremental_alter_configs(
        [ConfigResource("topic", "labels.transactions", incremental_configs=[entry])]
    ).values():
        future.result(timeout=10)
    # KRaft applies the change when the broker replays its metadata record: wait until it reads back
    deadline = time.monotonic() + 15
    while _config(settings, "labels.transactions")["retention.ms"] != "1000" and time.monotonic() < deadline:
        time.sleep(0.1)
    results = {r.name: r for r in create_topics(admin, topic_specs(settings))}
    assert results["labels.transactions"].action == "updated"
    assert _config(settings, "labels.transactions")["retention.ms"] == str(30 * 86_400_000)

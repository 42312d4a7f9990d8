"""What the exporter read, as Prometheus metric families (pure: tested without services)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from rtml.exporter.kafka import KafkaView, group_lag


def kafka_families(view: KafkaView | None) -> Iterator[Metric]:
    up = GaugeMetricFamily("kafka_up", "1 if the broker answered the exporter's last admin requests")
    up.add_metric([], 0.0 if view is None else 1.0)
    yield up
    if view is None:
        return
    yield GaugeMetricFamily("kafka_brokers", "Brokers in the cluster's metadata", value=view.brokers)
    partitions = GaugeMetricFamily("kafka_topic_partitions", "Partitions of the topic", labels=["topic"])
    for topic, count in sorted(view.partitions.items()):
        partitions.add_metric([topic], count)
    yield partitions
    offsets = GaugeMetricFamily(
        "kafka_topic_partition_current_offset",
        "End offset (last stable offset) of the partition: rate() of its sum is records/s written",
        labels=["topic", "partition"],
    )
    for (topic, partition), offset in sorted(view.end_offsets.items()):
        offsets.add_metric([topic, str(partition)], offset)
    yield offsets
    members = GaugeMetricFamily(
        "kafka_consumergroup_members", "Members of the consumer group (0: nobody reads)", labels=["consumergroup"]
    )
    committed = GaugeMetricFamily(
        "kafka_consumergroup_current_offset_sum",
        "Sum of the group's committed offsets on the topic",
        labels=["consumergroup", "topic"],
    )
    lag = GaugeMetricFamily(
        "kafka_consumergroup_lag_sum",
        "Records of the topic not yet committed by the group (summed over partitions)",
        labels=["consumergroup", "topic"],
    )
    for group, state in sorted(view.groups.items()):
        members.add_metric([group], state.members)
        for topic, topic_lag in sorted(group_lag(state.committed, view.end_offsets).items()):
            committed.add_metric([group, topic], topic_lag.committed)
            lag.add_metric([group, topic], topic_lag.lag)
    yield members
    yield committed
    yield lag


# INFO field -> (metric name, help, counter?) in the names the widely used redis_exporter gives them
REDIS_FIELDS: dict[str, tuple[str, str, bool]] = {
    "uptime_in_seconds": ("redis_uptime_in_seconds", "Seconds since the server started", False),
    "connected_clients": ("redis_connected_clients", "Client connections", False),
    "blocked_clients": ("redis_blocked_clients", "Clients blocked on a command", False),
    "used_memory": ("redis_memory_used_bytes", "Memory allocated by Redis", False),
    "used_memory_rss": ("redis_memory_used_rss_bytes", "Resident memory of the server process", False),
    "maxmemory": ("redis_memory_max_bytes", "maxmemory (0: unlimited)", False),
    "total_commands_processed": ("redis_commands_processed", "Commands processed", True),
    "total_connections_received": ("redis_connections_received", "Connections accepted", True),
    "keyspace_hits": ("redis_keyspace_hits", "Successful key lookups", True),
    "keyspace_misses": ("redis_keyspace_misses", "Key lookups that found nothing", True),
    "expired_keys": ("redis_expired_keys", "Keys removed because their TTL passed", True),
    "evicted_keys": ("redis_evicted_keys", "Keys evicted for maxmemory", True),
    "rdb_changes_since_last_save": ("redis_rdb_changes_since_last_save", "Writes since the last snapshot", False),
}


def redis_families(info: Mapping[str, Any] | None) -> Iterator[Metric]:
    up = GaugeMetricFamily("redis_up", "1 if Redis answered the exporter's last INFO")
    up.add_metric([], 0.0 if info is None else 1.0)
    yield up
    if info is None:
        return
    for field, (name, help_text, counter) in REDIS_FIELDS.items():
        value = info.get(field)
        if not isinstance(value, int | float):
            continue
        family = CounterMetricFamily(name, help_text) if counter else GaugeMetricFamily(name, help_text)
        family.add_metric([], float(value))
        yield family
    keys = GaugeMetricFamily("redis_db_keys", "Keys in the database", labels=["db"])
    expiring = GaugeMetricFamily("redis_db_keys_expiring", "Keys with a TTL in the database", labels=["db"])
    for db, stats in sorted(info.items()):
        if db.startswith("db") and db[2:].isdigit() and isinstance(stats, Mapping):
            keys.add_metric([db], float(stats.get("keys", 0)))
            expiring.add_metric([db], float(stats.get("expires", 0)))
    yield keys
    yield expiring

"""The exporter's metric families from what it read (no services): lag arithmetic, names, up flags."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from rtml.exporter.families import kafka_families, redis_families
from rtml.exporter.kafka import GroupView, KafkaView, group_lag


def samples(families: list[object]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Render through prometheus_client's exposition and parse it back, as Prometheus would read it."""

    class Fixed:
        def collect(self):  # type: ignore[no-untyped-def]
            return families

    registry = CollectorRegistry()
    registry.register(Fixed())  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_group_lag_sums_partitions_and_never_goes_negative() -> None:
    committed = {("a", 0): 10, ("a", 1): 5, ("b", 0): 7}
    end = {("a", 0): 15, ("a", 1): 5, ("b", 0): 6}  # b: committed past the end (a truncated topic)
    lag = group_lag(committed, end)
    assert lag["a"].committed == 15 and lag["a"].lag == 5
    assert lag["b"].lag == 0


def test_group_lag_skips_partitions_without_an_end_offset() -> None:
    lag = group_lag({("gone", 0): 3, ("a", 0): 1}, {("a", 0): 4})
    assert lag["gone"].lag == 0 and lag["gone"].committed == 3
    assert lag["a"].lag == 3


def test_kafka_families_per_group_and_topic() -> None:
    view = KafkaView(
        brokers=1,
        partitions={"events.transactions": 2},
        end_offsets={("events.transactions", 0): 100, ("events.transactions", 1): 50},
        groups={
            "rtml-scorer": GroupView("stable", 1, {("events.transactions", 0): 90, ("events.transactions", 1): 50}),
            "idle": GroupView("empty", 0, {}),
        },
    )
    got = samples(list(kafka_families(view)))
    assert got[("kafka_up", ())] == 1
    assert got[("kafka_brokers", ())] == 1
    assert got[("kafka_topic_partitions", (("topic", "events.transactions"),))] == 2
    assert got[("kafka_topic_partition_current_offset", (("partition", "1"), ("topic", "events.transactions")))] == 50
    key = (("consumergroup", "rtml-scorer"), ("topic", "events.transactions"))
    assert got[("kafka_consumergroup_lag_sum", key)] == 10
    assert got[("kafka_consumergroup_current_offset_sum", key)] == 140
    assert got[("kafka_consumergroup_members", (("consumergroup", "idle"),))] == 0
    assert not any(
        name == "kafka_consumergroup_lag_sum" and ("consumergroup", "idle") in labels for name, labels in got
    )


def test_kafka_down_says_so_and_nothing_else() -> None:
    got = samples(list(kafka_families(None)))
    assert got == {("kafka_up", ()): 0}


def test_redis_families_from_info() -> None:
    info = {
        "used_memory": 1_048_576,
        "maxmemory": 0,
        "total_commands_processed": 1234,
        "keyspace_hits": 10,
        "connected_clients": 3,
        "redis_version": "7.0.15",  # text: not a metric
        "db0": {"keys": 42, "expires": 2, "avg_ttl": 0},
    }
    got = samples(list(redis_families(info)))
    assert got[("redis_up", ())] == 1
    assert got[("redis_memory_used_bytes", ())] == 1_048_576
    assert got[("redis_commands_processed_total", ())] == 1234
    assert got[("redis_keyspace_hits_total", ())] == 10
    assert got[("redis_db_keys", (("db", "db0"),))] == 42
    assert got[("redis_db_keys_expiring", (("db", "db0"),))] == 2
    assert ("redis_keyspace_misses_total", ()) not in got  # absent from INFO: not made up


def test_redis_down_says_so_and_nothing_else() -> None:
    assert samples(list(redis_families(None))) == {("redis_up", ()): 0}

"""Topic contracts derived from settings (no broker: the specs themselves)."""

from __future__ import annotations

from rtml.settings import load_settings
from rtml.topics import DAY_MS, topic_specs


def _by_name(**overrides: object) -> dict[str, object]:
    return {spec.name: spec for spec in topic_specs(load_settings(**overrides))}


def test_every_architecture_topic_is_declared() -> None:
    names = set(_by_name())
    assert {
        "events.transactions",
        "labels.transactions",
        "cdc.bank.customers",
        "cdc.bank.merchants",
        "features.customer_txn_stats",
        "predictions.fraud",
        "monitoring.drift",
        "models.updates",
    } <= names


def test_every_topic_has_its_dead_letter_topic() -> None:
    specs = _by_name()
    sources = [name for name in specs if not name.startswith("dlq.")]
    assert sources
    for name in sources:
        assert f"dlq.{name}" in specs


def test_policies() -> None:
    specs = _by_name()
    assert specs["features.customer_txn_stats"].config["cleanup.policy"] == "compact"
    assert specs["models.updates"].config["cleanup.policy"] == "compact"
    assert specs["events.transactions"].config["retention.ms"] == str(7 * DAY_MS)
    assert specs["dlq.events.transactions"].config["retention.ms"] == str(14 * DAY_MS)
    assert specs["events.transactions"].partitions == 6
    assert specs["monitoring.drift"].partitions == 1


def test_names_follow_settings() -> None:
    specs = _by_name(event_streams=["payments"], models=["churn"], feature_views=["a", "b"], topic_partitions=2)
    assert {"events.payments", "labels.payments", "predictions.churn", "features.a", "features.b"} <= set(specs)
    assert "events.transactions" not in specs
    assert specs["events.payments"].partitions == 2

"""Topics as contracts: every topic of the architecture's table, with partitions and retention."""

from __future__ import annotations

from dataclasses import dataclass, field

from rtml.settings import Settings

DAY_MS = 86_400_000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    purpose: str = ""


def _retention(days: int) -> dict[str, str]:
    return {"cleanup.policy": "delete", "retention.ms": str(days * DAY_MS)}


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """The topics this deployment needs, named from settings, each with its dead-letter topic."""
    p = settings.topic_partitions
    max_bytes = {"max.message.bytes": str(settings.max_record_bytes)}
    specs: list[TopicSpec] = []
    for name in settings.event_streams:
        specs.append(TopicSpec(f"events.{name}", p, {**_retention(7), **max_bytes}, "business events, key entity id"))
        specs.append(TopicSpec(f"labels.{name}", 3, {**_retention(30), **max_bytes}, "late ground truth, key event id"))
    for table in settings.cdc_tables:
        specs.append(
            TopicSpec(
                f"cdc.{table}",
                3,
                {"cleanup.policy": "compact,delete", "retention.ms": str(7 * DAY_MS), **max_bytes},
                "Debezium change events, key primary key",
            )
        )
    for view in settings.feature_views:
        specs.append(
            TopicSpec(
                f"features.{view}",
                p,
                {
                    "cleanup.policy": "compact",
                    "min.compaction.lag.ms": "0",
                    "segment.ms": str(DAY_MS // 24),
                    **max_bytes,
                },
                "feature rows (latest per entity survives compaction), key entity id",
            )
        )
    for model in settings.models:
        specs.append(TopicSpec(f"predictions.{model}", p, {**_retention(3), **max_bytes}, "scores, key event id"))
        specs.append(
            TopicSpec(
                f"predictions.{model}.shadow", p, {**_retention(3), **max_bytes}, "challenger scores, key event id"
            )
        )
    specs.append(TopicSpec("monitoring.drift", 1, {**_retention(30), **max_bytes}, "drift events, key model"))
    specs.append(
        TopicSpec("models.updates", 1, {"cleanup.policy": "compact", **max_bytes}, "registry changes, key model")
    )
    dead_letters = [
        TopicSpec(
            f"dlq.{spec.name}",
            1,
            {**_retention(14), "max.message.bytes": str(2 * settings.max_record_bytes)},
            f"records of {spec.name} that failed validation or processing",
        )
        for spec in specs
    ]
    return specs + dead_letters


@dataclass(frozen=True)
class TopicResult:
    name: str
    action: str  # "created" | "exists" | "updated"
    detail: str = ""


def create_topics(admin: object, specs: list[TopicSpec], timeout_s: float = 30.0) -> list[TopicResult]:
    """Create missing topics; bring existing ones' configs in line. Safe to run any number of times."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

    assert isinstance(admin, AdminClient)
    existing = admin.list_topics(timeout=timeout_s).topics
    results: list[TopicResult] = []
    missing = [spec for spec in specs if spec.name not in existing]
    if missing:
        futures = admin.create_topics(
            [NewTopic(s.name, num_partitions=s.partitions, replication_factor=1, config=s.config) for s in missing],
            operation_timeout=timeout_s,
        )
        for name, future in futures.items():
            try:
                future.result()
                results.append(TopicResult(name, "created"))
            except KafkaException as exc:
                if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":  # a concurrent `topics create`
                    raise
                results.append(TopicResult(name, "exists"))
    for spec in specs:
        if spec.name not in existing:
            continue
        have = len(existing[spec.name].partitions)
        note = "" if have == spec.partitions else f"has {have} partitions, contract says {spec.partitions}"
        resource = ConfigResource("topic", spec.name)
        current = admin.describe_configs([resource])[resource].result(timeout=timeout_s)
        drift = {k: v for k, v in spec.config.items() if k not in current or current[k].value != v}
        if drift:
            from confluent_kafka.admin import AlterConfigOpType, ConfigEntry

            entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in drift.items()]
            for future in admin.incremental_alter_configs(
                [ConfigResource("topic", spec.name, incremental_configs=entries)]
            ).values():
                future.result(timeout=timeout_s)
            results.append(TopicResult(spec.name, "updated", ", ".join(f"{k}={v}" for k, v in drift.items())))
        else:
            results.append(TopicResult(spec.name, "exists", note))
    order = {spec.name: i for i, spec in enumerate(specs)}
    return sorted(results, key=lambda r: order[r.name])

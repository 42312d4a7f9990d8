"""Announce alias changes on ``models.updates`` (key: model name) so scorers hot-swap (docs/decisions/0007)."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from schemas.model_update import ModelUpdate
from training.versions import AliasChange

if TYPE_CHECKING:
    from rtml.kafka.producer import RecordProducer
    from rtml.settings import Settings

TOPIC = "models.updates"


class PublishError(Exception):
    """The registry changed but ``models.updates`` did not hear of it; the message says how to catch up."""


def model_update(change: AliasChange, *, ts_ms: int | None = None) -> ModelUpdate:
    """The record for an alias change; metrics are the version's finite headline metrics (no dotted names)."""
    v = change.version
    previous = change.previous.version if change.previous is not None else None
    return ModelUpdate(
        model=v.model,
        version=v.version,
        alias=change.alias,
        artifact_uri=v.artifact_uri,
        sha256=v.sha256,
        ts=ts_ms if ts_ms is not None else int(time.time() * 1000),
        action=change.action,
        previous_version=previous if previous != v.version else None,
        metrics={k[:128]: float(x) for k, x in v.metrics.items() if "." not in k and math.isfinite(x)},
    )


class UpdatePublisher:
    """Sends ``ModelUpdate`` records with the project's idempotent ``RecordProducer``, one flush each."""

    def __init__(self, settings: Settings, producer: RecordProducer | None = None, timeout_s: float = 15.0) -> None:
        from rtml.kafka.producer import RecordProducer

        self.settings = settings
        self.timeout_s = timeout_s
        self.producer = producer or RecordProducer(
            settings, "registry", **{"message.timeout.ms": int(timeout_s * 1000)}
        )

    def check_reachable(self) -> None:
        """Raise ``KafkaUnavailable`` now, before the registry changes, when the broker does not answer."""
        from rtml.kafka.clients import check_reachable

        check_reachable(self.settings)

    def publish(self, change: AliasChange) -> ModelUpdate:
        """Send the update and wait for the broker's ack; ``PublishError`` says the registry already moved."""
        from rtml.kafka.clients import KafkaUnavailable
        from rtml.kafka.producer import ProduceError

        update = model_update(change)
        try:
            self.producer.send(TOPIC, update.model, update)
            self.producer.flush(self.timeout_s)
        except (KafkaUnavailable, ProduceError) as exc:
            raise PublishError(
                f"model {update.model!r} {update.alias} is version {update.version} in the registry, but {TOPIC} "
                f"did not take the update ({exc}); once Kafka is back run `rtml models publish {update.model}`"
            ) from None
        return update

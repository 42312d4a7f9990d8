"""Client configuration from settings, and one clear error when the broker cannot be reached."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from rtml.settings import Settings

# librdkafka repeats "Connect to ... failed" every second while a broker is down; those lines go to
# this logger (quiet unless debugging) and callers turn the condition into one KafkaUnavailable.
LIBRDKAFKA_LOG = logging.getLogger("rtml.librdkafka")
if LIBRDKAFKA_LOG.level == logging.NOTSET:
    LIBRDKAFKA_LOG.setLevel(logging.CRITICAL)


class KafkaUnavailable(Exception):
    """The bootstrap servers do not answer; the message says what to do."""

    def __init__(self, bootstrap: str, reason: str = "") -> None:
        hint = (
            "start the local stack with `rtml up` (or `rtml up --only kafka`), "
            "or point RTML_BOOTSTRAP_SERVERS at a running broker"
        )
        super().__init__(f"cannot reach Kafka at {bootstrap}{f' ({reason})' if reason else ''}: {hint}")
        self.bootstrap = bootstrap


def _common(settings: Settings) -> dict[str, Any]:
    return {"bootstrap.servers": settings.kafka_bootstrap, "logger": LIBRDKAFKA_LOG}


def producer_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """Idempotent producer: acks=all, ordered per partition, no duplicates on retry."""
    return {
        **_common(settings),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
        "message.max.bytes": settings.max_record_bytes + 4096,
        **overrides,
    }


def consumer_config(settings: Settings, group: str, **overrides: Any) -> dict[str, Any]:
    """read_committed, manual commits after processing (at-least-once), start at the beginning."""
    return {
        **_common(settings),
        "group.id": group,
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        **overrides,
    }


def admin_client(settings: Settings) -> AdminClient:
    return AdminClient(_common(settings))


def check_reachable(settings: Settings, timeout_s: float = 5.0) -> AdminClient:
    """An admin client on a broker that answered a metadata request, else KafkaUnavailable."""
    admin = admin_client(settings)
    try:
        admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        err = exc.args[0] if exc.args else None
        reason = err.str() if isinstance(err, KafkaError) else str(exc)
        raise KafkaUnavailable(settings.kafka_bootstrap, reason) from None
    return admin

"""Route a record that failed to ``dlq.<topic>``: original key and bytes, the reason in headers."""

from __future__ import annotations

import logging

from confluent_kafka import Message, Producer

from rtml.kafka.metrics import DEAD_LETTERS
from schemas.dlq import dead_letter_headers, dead_letter_topic
from schemas.errors import SchemaError

log = logging.getLogger(__name__)


class DeadLetterError(Exception):
    """The dead-letter topic did not take a record: stop rather than lose it."""


class DeadLetterRouter:
    """Never drops: a failed dead-letter write raises ``DeadLetterError`` on ``flush``."""

    def __init__(self, producer: Producer, component: str) -> None:
        self.producer = producer
        self.component = component
        self._failures: list[str] = []

    def route(self, message: Message, error: BaseException) -> None:
        topic = message.topic() or "unknown"
        headers = dead_letter_headers(
            error,
            component=self.component,
            topic=topic,
            partition=message.partition() or 0,
            offset=message.offset() or 0,
        )
        rule = error.rule if isinstance(error, SchemaError) else type(error).__name__
        self.producer.produce(
            dead_letter_topic(topic),
            key=message.key(),
            value=message.value(),
            headers=list(headers),  # type: ignore[arg-type]  # list[tuple[str, bytes]] is valid
            on_delivery=self._delivered,
        )
        DEAD_LETTERS.labels(self.component, topic, rule).inc()
        log.warning("dead-lettered %s[%s]@%s: %s", topic, message.partition(), message.offset(), error)

    def _delivered(self, err: object, message: Message) -> None:
        if err is not None:
            self._failures.append(f"{message.topic()}: {err}")

    def flush(self, timeout_s: float = 30.0) -> None:
        remaining = self.producer.flush(timeout_s)
        if remaining or self._failures:
            failures, self._failures = self._failures, []
            raise DeadLetterError(
                f"{self.component}: {remaining} dead letters undelivered, failures: {failures[:3]}; "
                "does the dlq.* topic exist (`rtml topics create`)?"
            )

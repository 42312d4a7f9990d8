"""Typed produce: a record is encoded by its topic's schema, keyed, and acknowledged or reported."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from rtml.kafka.clients import KafkaUnavailable, producer_config
from rtml.kafka.metrics import PRODUCE_FAILURES, RECORDS_PRODUCED
from rtml.settings import Settings
from schemas.registry import codec_for


class ProduceError(Exception):
    """Records were not acknowledged by the broker."""


class RecordProducer:
    """Idempotent producer of schema records. ``flush`` raises when any record was not acknowledged."""

    def __init__(self, settings: Settings, component: str, **overrides: Any) -> None:
        self.settings = settings
        self.component = component
        self.producer = Producer(producer_config(settings, error_cb=self._on_error, **overrides))
        self._failures: list[str] = []
        self._broker_down = False
        self.delivered = 0

    def send(self, topic: str, key: str | bytes | None, record: Any) -> None:
        value = codec_for(topic).encode(record)
        self.send_raw(topic, key, value)

    def send_raw(self, topic: str, key: str | bytes | None, value: bytes, headers: Any = None) -> None:
        while True:
            try:
                self.producer.produce(topic, value=value, key=key, headers=headers, on_delivery=self._delivered)
                break
            except BufferError:  # local queue full: let deliveries drain
                self.producer.poll(0.05)
        self.producer.poll(0)

    def flush(self, timeout_s: float = 30.0) -> None:
        remaining = self.producer.flush(timeout_s)
        if remaining and self._broker_down:
            raise KafkaUnavailable(self.settings.kafka_bootstrap, f"{remaining} records undelivered")
        if remaining or self._failures:
            failures, self._failures = self._failures, []
            raise ProduceError(f"{remaining} records unacknowledged after {timeout_s:.0f} s; failures: {failures[:3]}")

    def _delivered(self, err: KafkaError | None, message: Message) -> None:
        topic = message.topic() or ""
        if err is None:
            self._broker_down = False
            self.delivered += 1
            RECORDS_PRODUCED.labels(self.component, topic).inc()
        else:
            PRODUCE_FAILURES.labels(self.component, topic).inc()
            self._failures.append(f"{topic}: {err.str()}")

    def _on_error(self, err: KafkaError) -> None:
        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            self._broker_down = True
        # anything else (_TRANSPORT, timeouts) is retried by librdkafka itself

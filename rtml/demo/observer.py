"""The demo's subscriber: reads predictions, labels, drift events and model updates from their ends, as
any client would, into a ``Scoreboard`` (a thread; ``lock`` guards the board)."""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import OFFSET_END, Consumer, TopicPartition

from rtml.demo.scoreboard import Scoreboard
from rtml.kafka.clients import admin_client, consumer_config
from rtml.settings import Settings
from schemas.errors import SchemaError
from schemas.registry import codec_for

log = logging.getLogger("rtml.demo")


class Observer(threading.Thread):
    def __init__(self, settings: Settings, model: str, label_name: str) -> None:
        super().__init__(name="demo-observer", daemon=True)
        self.topics = {
            f"predictions.{model}": "prediction",
            f"labels.{label_name}": "label",
            "monitoring.drift": "drift",
            "models.updates": "update",
        }
        self.codecs = {topic: codec_for(topic) for topic in self.topics}
        self.board = Scoreboard()
        self.lock = threading.Lock()
        self.consumer = Consumer(consumer_config(settings, "rtml-demo-observer", **{"enable.auto.commit": False}))
        metadata = admin_client(settings).list_topics(timeout=10)
        missing = [t for t in self.topics if t not in metadata.topics]
        if missing:
            raise RuntimeError(f"topics {missing} do not exist: run `rtml topics create`")
        self.consumer.assign(
            [TopicPartition(topic, p, OFFSET_END) for topic in self.topics for p in metadata.topics[topic].partitions]
        )
        self._halt = threading.Event()
        self.bad = 0

    def stop(self) -> None:
        self._halt.set()
        self.join(10)

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                messages = self.consumer.consume(2000, 0.2)
                now = int(time.time() * 1000)
                with self.lock:
                    for message in messages:
                        if message.error() is not None:
                            continue
                        self._one(message.topic(), message.value(), now)
        finally:
            self.consumer.close()

    def _one(self, topic: str | None, value: bytes | None, now: int) -> None:
        kind = self.topics.get(topic or "")
        if kind is None or value is None:
            return
        try:
            record = self.codecs[topic or ""].decode(value)
        except SchemaError:
            self.bad += 1
            return
        board = self.board
        if kind == "prediction":
            board.prediction(record, now)
        elif kind == "label":
            board.label(record, now)
        elif kind == "drift":
            board.drift(record, now)
        else:
            board.update(record, now)

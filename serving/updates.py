"""The scorer's view of ``models.updates``: alias changes of its model, read from where it started.

Every scorer reads the whole topic stream (no consumer group: each one must hear every update). The
feed starts at the topic's end, taken before the scorer asks the registry for its champion, so an
update that lands between the two is still heard (and one already applied is ignored by the slot).
A record that does not decode is logged and skipped: the topic's producer, the registry, dead-letters
nothing here (every scorer would copy it).
"""

from __future__ import annotations

import logging
import uuid

from confluent_kafka import Consumer, TopicPartition

from rtml.kafka.clients import consumer_config
from rtml.settings import Settings
from schemas.codec import RecordCodec
from schemas.errors import SchemaError
from schemas.model_update import ModelUpdate
from serving.model_slot import ModelSource

log = logging.getLogger(__name__)


class UpdatesTopicMissing(RuntimeError):
    """The updates topic does not exist (hot swap would never hear a change); the message says what to do."""


def source_of(update: ModelUpdate) -> ModelSource:
    return ModelSource(update.model, update.version, update.alias, update.artifact_uri, update.sha256)


class UpdateFeed:
    def __init__(self, settings: Settings, topic: str, model: str, timeout_s: float = 10.0) -> None:
        self.topic = topic
        self.model = model
        self.codec: RecordCodec[ModelUpdate] = RecordCodec(ModelUpdate, name=topic)
        group = f"rtml-scorer-updates-{uuid.uuid4().hex[:12]}"  # never joins or commits: assign() only
        self.consumer = Consumer(consumer_config(settings, group))
        metadata = self.consumer.list_topics(topic, timeout=timeout_s).topics[topic]
        if metadata.error is not None:
            raise UpdatesTopicMissing(
                f"cannot read {topic} ({metadata.error.str()}): create it with `rtml topics create`, "
                "or point RTML_SCORER_UPDATES_TOPIC at the registry's topic"
            )
        ends = []
        for partition in metadata.partitions:
            _, high = self.consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
            ends.append(TopicPartition(topic, partition, high))
        self.consumer.assign(ends)

    def poll(self, timeout_s: float = 0.0) -> list[ModelUpdate]:
        """Updates of this scorer's model that arrived since the last call (oldest first)."""
        out = []
        for message in self.consumer.consume(100, timeout_s):
            if message.error() is not None or message.value() is None:
                continue
            try:
                update = self.codec.decode(message.value())
            except SchemaError as exc:
                log.warning("%s[%s]@%s skipped: %s", self.topic, message.partition(), message.offset(), exc)
                continue
            if update.model == self.model:
                out.append(update)
        return out

    def close(self) -> None:
        self.consumer.close()

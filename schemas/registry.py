"""Which record type, and which codec, belongs to a topic.

Patterns follow the topic table in ARCHITECTURE.md: a ``*`` stands for one or more legal topic
characters (``[A-Za-z0-9._-]``), anything else matches itself. Dead-letter topics (``dlq.*``) have
no codec: their values are the original bytes, and their reason is in the headers (``schemas.dlq``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, get_origin

from schemas.codec import RecordCodec
from schemas.debezium import Customer, DebeziumCodec, DebeziumEnvelope, Merchant
from schemas.drift import DriftEvent
from schemas.feature_row import FeatureRow
from schemas.label import Label
from schemas.model_update import ModelUpdate
from schemas.prediction import Prediction
from schemas.transaction import TransactionEvent

# Record name -> type; the name is also the JSON Schema file name (schemas/json/<name>.schema.json).
RECORD_TYPES: dict[str, Any] = {
    "transaction": TransactionEvent,
    "cdc_customer": DebeziumEnvelope[Customer],
    "cdc_merchant": DebeziumEnvelope[Merchant],
    "label": Label,
    "feature_row": FeatureRow,
    "prediction": Prediction,
    "drift_event": DriftEvent,
    "model_update": ModelUpdate,
}

# Topic pattern -> record name, in the order of the topic table.
TOPIC_PATTERNS: tuple[tuple[str, str], ...] = (
    ("events.transactions", "transaction"),
    ("cdc.bank.customers", "cdc_customer"),
    ("cdc.bank.merchants", "cdc_merchant"),
    ("labels.*", "label"),
    ("features.*", "feature_row"),
    ("predictions.*", "prediction"),
    ("monitoring.drift", "drift_event"),
    ("models.updates", "model_update"),
)

_TOPIC_CHARS = "[A-Za-z0-9._-]+"


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(_TOPIC_CHARS.join(re.escape(part) for part in pattern.split("*")))


_COMPILED = tuple((_compile(pattern), name) for pattern, name in TOPIC_PATTERNS)


class UnknownTopicError(KeyError):
    """No record type is registered for a topic; the message lists the known patterns."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        known = ", ".join(pattern for pattern, _ in TOPIC_PATTERNS)
        hint = (
            " Dead-letter topics carry the original bytes: read the reason with schemas.parse_dead_letter_headers."
            if topic.startswith("dlq.")
            else " Register it in schemas/registry.py (TOPIC_PATTERNS)."
        )
        super().__init__(f"no record type for topic {topic!r}; known topics: {known}.{hint}")

    def __str__(self) -> str:
        return str(self.args[0])


def record_name_for(topic: str) -> str:
    """The record name (a key of ``RECORD_TYPES``) for ``topic``; ``UnknownTopicError`` if none."""
    for pattern, name in _COMPILED:
        if pattern.fullmatch(topic):
            return name
    raise UnknownTopicError(topic)


def record_type_for(topic: str) -> Any:
    """The record type decoded from ``topic``."""
    return RECORD_TYPES[record_name_for(topic)]


@lru_cache(maxsize=512)
def codec_for(topic: str) -> RecordCodec[Any]:
    """The codec for ``topic``, named after it so errors say which topic; cached per topic."""
    record_type = record_type_for(topic)
    if get_origin(record_type) is DebeziumEnvelope:
        (row_type,) = record_type.__args__
        return DebeziumCodec(row_type, name=topic)
    return RecordCodec(record_type, name=topic)

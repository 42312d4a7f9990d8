"""rtml schemas: the typed record of every topic, its codec, validation errors and dead-letter headers.

Decode with the codec of the topic::

    from schemas import codec_for
    record = codec_for("events.transactions").decode(value)  # raises only SchemaError
"""

from schemas.codec import DEFAULT_MAX_BYTES, RecordCodec
from schemas.debezium import (
    Customer,
    DebeziumCodec,
    DebeziumEnvelope,
    DebeziumSource,
    DebeziumTransaction,
    Merchant,
)
from schemas.dlq import dead_letter_headers, dead_letter_topic, parse_dead_letter_headers
from schemas.drift import DriftEvent
from schemas.errors import RuleViolation, SchemaError
from schemas.feature_row import FeatureRow
from schemas.fields import EpochMs, Id
from schemas.label import Label
from schemas.model_update import ModelUpdate
from schemas.prediction import Prediction
from schemas.registry import (
    RECORD_TYPES,
    TOPIC_PATTERNS,
    UnknownTopicError,
    codec_for,
    record_name_for,
    record_type_for,
)
from schemas.transaction import Transaction, TransactionEvent

__all__ = [
    "DEFAULT_MAX_BYTES",
    "RECORD_TYPES",
    "TOPIC_PATTERNS",
    "Customer",
    "DebeziumCodec",
    "DebeziumEnvelope",
    "DebeziumSource",
    "DebeziumTransaction",
    "DriftEvent",
    "EpochMs",
    "FeatureRow",
    "Id",
    "Label",
    "Merchant",
    "ModelUpdate",
    "Prediction",
    "RecordCodec",
    "RuleViolation",
    "SchemaError",
    "Transaction",
    "TransactionEvent",
    "UnknownTopicError",
    "codec_for",
    "dead_letter_headers",
    "dead_letter_topic",
    "parse_dead_letter_headers",
    "record_name_for",
    "record_type_for",
]

"""Topic -> codec, and the decoder contract for every registered topic: only SchemaError, ever."""

from __future__ import annotations

import functools
import json
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.codec import RecordCodec
from schemas.debezium import Customer, DebeziumCodec, DebeziumEnvelope, Merchant
from schemas.errors import SchemaError
from schemas.feature_row import FeatureRow
from schemas.registry import (
    RECORD_TYPES,
    TOPIC_PATTERNS,
    UnknownTopicError,
    codec_for,
    record_name_for,
    record_type_for,
)
from schemas.transaction import Transaction
from tests.support.schema_strategies import records

# One concrete topic per pattern, with the record name it must map to.
TOPICS = {
    "events.transactions": "transaction",
    "cdc.bank.customers": "cdc_customer",
    "cdc.bank.merchants": "cdc_merchant",
    "labels.transactions": "label",
    "features.customer_1h": "feature_row",
    "predictions.fraud_v2": "prediction",
    "monitoring.drift": "drift_event",
    "models.updates": "model_update",
}


@pytest.mark.parametrize(("topic", "name"), TOPICS.items())
def test_topic_maps_to_its_record(topic: str, name: str) -> None:
    assert record_name_for(topic) == name
    assert record_type_for(topic) is RECORD_TYPES[name]
    codec = codec_for(topic)
    assert codec.name == topic
    assert codec_for(topic) is codec  # cached


def test_every_pattern_and_record_is_covered() -> None:
    assert {name for _, name in TOPIC_PATTERNS} == set(RECORD_TYPES) == set(TOPICS.values())


def test_codec_kinds() -> None:
    assert codec_for("events.transactions").type is Transaction
    assert codec_for("features.a-b_c.d").type is FeatureRow
    customers, merchants = codec_for("cdc.bank.customers"), codec_for("cdc.bank.merchants")
    assert isinstance(customers, DebeziumCodec) and customers.row_type is Customer
    assert isinstance(merchants, DebeziumCodec) and merchants.type == DebeziumEnvelope[Merchant]
    assert type(codec_for("labels.x")) is RecordCodec


def test_errors_name_the_topic() -> None:
    with pytest.raises(SchemaError, match=r"^features\.customer_1h: "):
        codec_for("features.customer_1h").decode(b"{}")


@pytest.mark.parametrize(
    "topic",
    [
        "events.clicks",
        "features.",
        "features",
        "labels.a b",
        "cdc.bank.accounts",
        "monitoring.drift.x",
        "",
        "x.models.updates",
    ],
)
def test_unknown_topic(topic: str) -> None:
    with pytest.raises(UnknownTopicError) as info:
        codec_for(topic)
    assert isinstance(info.value, KeyError)
    message = str(info.value)
    assert message.startswith(f"no record type for topic {topic!r}")
    assert all(pattern in message for pattern, _ in TOPIC_PATTERNS)


def test_dead_letter_topics_have_no_codec_and_say_where_to_look() -> None:
    with pytest.raises(UnknownTopicError, match="parse_dead_letter_headers"):
        codec_for("dlq.events.transactions")


# -- the decoder contract, for every registered topic ------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()


def _field_names(record_type: Any) -> set[str]:
    names: set[str] = set()
    pending = [msgspec.inspect.type_info(record_type)]
    while pending:
        info = pending.pop()
        if isinstance(info, msgspec.inspect.StructType):
            names |= {f.encode_name for f in info.fields}
            pending += [f.type for f in info.fields]
        elif isinstance(info, msgspec.inspect.UnionType):
            pending += list(info.types)
        elif isinstance(info, msgspec.inspect.DictType | msgspec.inspect.ListType):
            pending += [getattr(info, "value_type", None) or info.item_type]
    return names


@functools.cache
def field_keys(topic: str) -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(_field_names(record_type_for(topic))))


@functools.cache
def json_values(topic: str) -> st.SearchStrategy[Any]:
    """Arbitrary JSON, with object keys drawn mostly from the topic record's own field names."""
    keys = field_keys(topic)
    words = st.sampled_from(["c", "u", "d", "r", "t", "transaction", "psi", "info", "DE", "EUR", "pos"])
    leaves = json_scalars | words | st.integers(0, 32_503_680_000_000)
    return st.recursive(
        leaves,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(keys | st.text(), children, max_size=8),
        max_leaves=16,
    )


def assert_decodes_or_schema_error(codec: RecordCodec[Any], data: bytes) -> None:
    try:
        record = codec.decode(data)
    except SchemaError as error:
        assert error.record == codec.name and error.field.startswith("$") and error.rule
        return
    # Whatever was accepted is a valid record: it survives its own round trip.
    assert codec.decode(codec.encode(record)) == record


@pytest.mark.parametrize("topic", TOPICS)
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_schema_error(topic: str, data: bytes) -> None:
    assert_decodes_or_schema_error(codec_for(topic), data)


@pytest.mark.parametrize("topic", TOPICS)
@given(data=st.data())
def test_arbitrary_json_raises_only_schema_error(topic: str, data: st.DataObject) -> None:
    value = data.draw(json_values(topic) | st.dictionaries(field_keys(topic), json_values(topic), max_size=12))
    assert_decodes_or_schema_error(codec_for(topic), json.dumps(value).encode())


@st.composite
def mutated(draw: st.DrawFn, value: Any, topic: str) -> Any:
    """``value`` with one object somewhere inside it changed: a key dropped, replaced or added."""
    objects = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            objects.append(item)
            pending += list(item.values())
        elif isinstance(item, list):
            pending += item
    target = draw(st.sampled_from(objects))
    action = draw(st.sampled_from(["drop", "replace", "add"]))
    if action != "add" and target:
        key = draw(st.sampled_from(sorted(target)))
        if action == "drop":
            del target[key]
        else:
            target[key] = draw(json_values(topic))
    else:
        target[draw(field_keys(topic))] = draw(json_values(topic))
    return value


@pytest.mark.parametrize("topic", TOPICS)
@given(data=st.data())
def test_mutated_valid_records_raise_only_schema_error(topic: str, data: st.DataObject) -> None:
    codec = codec_for(topic)
    valid = json.loads(codec.encode(data.draw(records(TOPICS[topic]))))
    for _ in range(data.draw(st.integers(1, 3))):
        valid = data.draw(mutated(valid, topic))
    assert_decodes_or_schema_error(codec, json.dumps(valid).encode())


@pytest.mark.parametrize("topic", TOPICS)
@given(data=st.data())
def test_corrupted_valid_bytes_raise_only_schema_error(topic: str, data: st.DataObject) -> None:
    codec = codec_for(topic)
    raw = bytearray(codec.encode(data.draw(records(TOPICS[topic]))))
    start = data.draw(st.integers(0, len(raw) - 1))
    raw[start : start + data.draw(st.integers(0, 8))] = data.draw(st.binary(max_size=8))
    assert_decodes_or_schema_error(codec, bytes(raw))

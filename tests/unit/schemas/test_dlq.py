"""Dead-letter topic names and headers: pure, UTF-8, never raising on a strange error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import dlq
from schemas.dlq import (
    COMPONENT,
    ERROR_CLASS,
    ERROR_FIELD,
    ERROR_MESSAGE,
    ERROR_RULE,
    FAILED_AT,
    HEADER_NAMES,
    MAX_MESSAGE_CHARS,
    SOURCE_OFFSET,
    SOURCE_PARTITION,
    SOURCE_TOPIC,
    dead_letter_headers,
    dead_letter_topic,
    parse_dead_letter_headers,
)
from schemas.errors import SchemaError
from schemas.registry import codec_for

ORIGIN = {"component": "scorer", "topic": "events.transactions", "partition": 4, "offset": 1234}


def test_dead_letter_topic() -> None:
    assert dead_letter_topic("events.transactions") == "dlq.events.transactions"
    assert dead_letter_topic("features.customer_1h") == "dlq.features.customer_1h"


@pytest.mark.parametrize("topic", ["", "x" * 246])
def test_dead_letter_topic_rejects_impossible_names(topic: str) -> None:
    with pytest.raises(ValueError):
        dead_letter_topic(topic)
    assert len(dead_letter_topic("x" * 245)) == 249


def test_header_names() -> None:
    assert HEADER_NAMES == (
        "rtml.error.class",
        "rtml.error.message",
        "rtml.error.field",
        "rtml.error.rule",
        "rtml.component",
        "rtml.source.topic",
        "rtml.source.partition",
        "rtml.source.offset",
        "rtml.failed_at",
    )


def test_schema_error_headers_carry_field_and_rule() -> None:
    with pytest.raises(SchemaError) as info:
        codec_for("events.transactions").decode(b'{"amount": "x"}')
    headers = dead_letter_headers(info.value, **ORIGIN, failed_at=1_700_000_000_000)
    assert all(isinstance(name, str) and isinstance(value, bytes) for name, value in headers)
    assert [name for name, _ in headers] == list(HEADER_NAMES)
    parsed = parse_dead_letter_headers(headers)
    assert parsed == {
        ERROR_CLASS: "schemas.errors.SchemaError",
        ERROR_MESSAGE: str(info.value),
        ERROR_FIELD: info.value.field,
        ERROR_RULE: info.value.rule,
        COMPONENT: "scorer",
        SOURCE_TOPIC: "events.transactions",
        SOURCE_PARTITION: "4",
        SOURCE_OFFSET: "1234",
        FAILED_AT: "1700000000000",
    }


def test_other_errors_have_no_field_or_rule() -> None:
    parsed = parse_dead_letter_headers(dead_letter_headers(KeyError("customer_id"), **ORIGIN))
    assert parsed[ERROR_CLASS] == "KeyError"
    assert parsed[ERROR_MESSAGE] == "'customer_id'"
    assert ERROR_FIELD not in parsed and ERROR_RULE not in parsed


def test_failed_at_defaults_to_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dlq.time, "time", lambda: 1_700_000_000.1234)
    parsed = parse_dead_letter_headers(dead_letter_headers(ValueError("x"), **ORIGIN))
    assert parsed[FAILED_AT] == "1700000000123"


def test_long_messages_are_truncated() -> None:
    parsed = parse_dead_letter_headers(dead_letter_headers(ValueError("é" * 5000), **ORIGIN))
    message = parsed[ERROR_MESSAGE]
    assert len(message) == MAX_MESSAGE_CHARS and message.endswith("…") and message.startswith("é" * 10)


def test_an_error_whose_str_fails_still_gets_headers() -> None:
    class Broken(Exception):
        def __str__(self) -> str:
            raise RuntimeError("boom")

    parsed = parse_dead_letter_headers(dead_letter_headers(Broken(), **ORIGIN))
    assert parsed[ERROR_MESSAGE] == "<unprintable test_an_error_whose_str_fails_still_gets_headers.<locals>.Broken>"
    assert parsed[ERROR_CLASS].endswith("Broken")


def test_parse_keeps_only_rtml_headers_and_tolerates_client_shapes() -> None:
    headers = [("traceparent", b"00-ab"), (SOURCE_TOPIC, b"events.transactions"), (COMPONENT, None)]
    assert parse_dead_letter_headers(headers) == {SOURCE_TOPIC: "events.transactions", COMPONENT: ""}
    assert parse_dead_letter_headers({ERROR_RULE: "gt", "x": b"y"}) == {ERROR_RULE: "gt"}
    assert parse_dead_letter_headers([(ERROR_MESSAGE, b"\xff\xfe")]) == {ERROR_MESSAGE: "\ufffd\ufffd"}
    assert parse_dead_letter_headers(None) == {}


@given(message=st.text(), component=st.text(), partition=st.integers(0, 2**31), offset=st.integers(-2, 2**62))
def test_headers_round_trip_through_bytes(message: str, component: str, partition: int, offset: int) -> None:
    headers = dead_letter_headers(
        RuntimeError(message), component=component, topic="t", partition=partition, offset=offset, failed_at=7
    )
    parsed = parse_dead_letter_headers(headers)
    assert parsed[ERROR_MESSAGE] == (message if len(message) <= MAX_MESSAGE_CHARS else parsed[ERROR_MESSAGE])
    assert len(parsed[ERROR_MESSAGE]) <= MAX_MESSAGE_CHARS
    assert (parsed[COMPONENT], parsed[SOURCE_PARTITION], parsed[SOURCE_OFFSET]) == (
        component,
        str(partition),
        str(offset),
    )

"""Transaction on events.transactions: constraints, the type tag, round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from schemas.codec import RecordCodec
from schemas.errors import SchemaError
from schemas.transaction import Transaction
from tests.support.schema_strategies import transactions

codec = RecordCodec(Transaction, name="events.transactions")

VALID = {
    "type": "transaction",
    "event_id": "e1",
    "ts": 1_700_000_000_000,
    "customer_id": "c1",
    "merchant_id": "m1",
    "merchant_category": "grocery",
    "amount": 12.5,
    "currency": "EUR",
    "country": "DE",
    "device_id": "d1",
    "channel": "online",
}


def decode(**changes: object) -> Transaction:
    value = {**VALID, **changes}
    return codec.decode(json.dumps({k: v for k, v in value.items() if v is not ...}))


def test_valid_transaction_decodes() -> None:
    assert decode() == Transaction(**{k: v for k, v in VALID.items() if k != "type"})


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"amount": 0}, "$.amount", "gt"),
        ({"amount": -3.0}, "$.amount", "gt"),
        ({"amount": 2e9}, "$.amount", "le"),
        ({"currency": "EU"}, "$.currency", "min_length"),
        ({"country": "DEU"}, "$.country", "max_length"),
        ({"channel": "phone"}, "$.channel", "enum"),
        ({"ts": -1}, "$.ts", "ge"),
        ({"ts": "2024-01-01"}, "$.ts", "type"),
        ({"event_id": ""}, "$.event_id", "min_length"),
        ({"merchant_category": "x" * 65}, "$.merchant_category", "max_length"),
        ({"device_id": ...}, "$.device_id", "required"),
        ({"type": "refund"}, "$.type", "enum"),
    ],
)
def test_each_broken_constraint_is_named(changes: dict[str, object], field: str, rule: str) -> None:
    with pytest.raises(SchemaError) as info:
        decode(**changes)
    assert (info.value.field, info.value.rule) == (field, rule)


def test_missing_type_tag_is_read_as_a_transaction() -> None:
    # msgspec checks a lone tagged struct's tag only when present; a union of event types would need it.
    assert decode(type=...) == decode()


def test_encode_writes_the_type_tag_first() -> None:
    assert codec.encode(decode()).startswith(b'{"type":"transaction",')


@given(transactions)
def test_round_trip(record: Transaction) -> None:
    data = codec.encode(record)
    assert codec.decode(data) == record
    assert codec.encode(codec.decode(data)) == data

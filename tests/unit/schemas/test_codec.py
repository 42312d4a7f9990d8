"""RecordCodec: decode validates in one pass and raises only SchemaError; encode is compact JSON."""

from __future__ import annotations

import msgspec
import pytest

from schemas.codec import DEFAULT_MAX_BYTES, RecordCodec
from schemas.errors import SchemaError
from schemas.transaction import Transaction

VALID = (
    b'{"type":"transaction","event_id":"e1","ts":1700000000000,"customer_id":"c1","merchant_id":"m1",'
    b'"merchant_category":"grocery","amount":12.5,"currency":"EUR","country":"DE","device_id":"d1",'
    b'"channel":"pos"}'
)


@pytest.fixture
def codec() -> RecordCodec[Transaction]:
    return RecordCodec(Transaction, name="events.transactions")


def test_decode_then_encode_gives_the_same_bytes(codec: RecordCodec[Transaction]) -> None:
    record = codec.decode(VALID)
    assert record.amount == 12.5 and record.channel == "pos"
    assert codec.encode(record) == VALID


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview, lambda b: b.decode()])
def test_decode_accepts_buffers_and_text(codec: RecordCodec[Transaction], wrap) -> None:
    assert codec.decode(wrap(VALID)).event_id == "e1"


def test_none_is_a_required_error_not_a_crash(codec: RecordCodec[Transaction]) -> None:
    with pytest.raises(SchemaError) as info:
        codec.decode(None)
    assert (info.value.record, info.value.field, info.value.rule) == ("events.transactions", "$", "required")


def test_oversize_record_is_rejected_before_parsing() -> None:
    codec = RecordCodec(Transaction, max_bytes=len(VALID) - 1)
    with pytest.raises(SchemaError) as info:
        codec.decode(VALID)
    assert info.value.rule == "max_bytes"
    assert RecordCodec(Transaction, max_bytes=len(VALID)).decode(VALID).event_id == "e1"


def test_default_limit_is_the_broker_default() -> None:
    assert RecordCodec(Transaction).max_bytes == DEFAULT_MAX_BYTES == 1_048_576


def test_name_defaults_to_the_type_and_appears_in_errors() -> None:
    codec = RecordCodec(Transaction)
    assert codec.name == "Transaction"
    with pytest.raises(SchemaError, match=r"^Transaction: field `\$` breaks rule `json`"):
        codec.decode(b"{")


def test_unknown_fields_are_ignored_so_producers_can_add_some(codec: RecordCodec[Transaction]) -> None:
    extended = VALID[:-1] + b',"new_field":{"x":[1,2]}}'
    assert codec.decode(extended) == codec.decode(VALID)


def test_other_exceptions_from_a_record_become_schema_errors() -> None:
    class Fragile(msgspec.Struct):
        x: int

        def __post_init__(self) -> None:
            raise OverflowError("too big")  # msgspec passes this through; the codec must not

    with pytest.raises(SchemaError) as info:
        RecordCodec(Fragile).decode(b'{"x": 1}')
    assert (info.value.field, info.value.rule) == ("$", "invalid")


def test_repr_names_type_and_codec(codec: RecordCodec[Transaction]) -> None:
    assert repr(codec) == "RecordCodec(Transaction, name='events.transactions')"

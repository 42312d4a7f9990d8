"""Debezium envelopes on cdc.bank.*: op rules, row types, both JSON converter forms."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given

from schemas.debezium import Customer, DebeziumCodec, DebeziumEnvelope, Merchant
from schemas.errors import RuleViolation, SchemaError
from tests.support.schema_strategies import records

customers = DebeziumCodec(Customer, name="cdc.bank.customers")
merchants = DebeziumCodec(Merchant, name="cdc.bank.merchants")

ROW = {
    "customer_id": "c1",
    "name": "Ada",
    "country": "GB",
    "segment": "retail",
    "credit_limit": 2500.0,
    "created_at": 1_700_000_000_000,
    "updated_at": 1_700_000_500_000,
}
SOURCE = {
    "version": "2.7.3.Final",
    "connector": "postgresql",
    "name": "bank",
    "ts_ms": 1_700_000_500_000,
    "snapshot": "false",
    "db": "bank",
    "sequence": '["24023128","24023128"]',
    "schema": "public",
    "table": "customers",
    "txId": 555,
    "lsn": 24023128,
    "xmin": None,
}
CREATE = {"before": None, "after": ROW, "source": SOURCE, "op": "c", "ts_ms": 1_700_000_500_123}


def envelope(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(CREATE), **changes}


def error_of(value: Any, codec: DebeziumCodec = customers) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        codec.decode(json.dumps(value))
    return info.value


def test_create_decodes_with_source_metadata() -> None:
    event = customers.decode(json.dumps(CREATE))
    assert event.op == "c" and event.before is None
    assert event.after == Customer(**ROW)
    assert (event.source.table, event.source.tx_id, event.source.lsn, event.source.snapshot) == (
        "customers",
        555,
        24023128,
        "false",
    )


@pytest.mark.parametrize(
    ("op", "before", "after"),
    [
        ("c", None, ROW),
        ("r", None, ROW),
        ("u", ROW, ROW),
        ("u", None, ROW),
        ("d", ROW, None),
        ("t", None, None),
    ],
)
def test_ops_with_the_rows_they_need(op: str, before: Any, after: Any) -> None:
    event = customers.decode(json.dumps(envelope(op=op, before=before, after=after)))
    assert (event.op, event.before is None, event.after is None) == (op, before is None, after is None)


@pytest.mark.parametrize(
    ("op", "before", "after", "field"),
    [
        ("c", None, None, "$.after"),
        ("r", ROW, None, "$.after"),
        ("u", ROW, None, "$.after"),
        ("d", None, ROW, "$.before"),
    ],
)
def test_op_without_its_row_names_the_missing_side(op: str, before: Any, after: Any, field: str) -> None:
    error = error_of(envelope(op=op, before=before, after=after))
    assert (error.record, error.field, error.rule) == ("cdc.bank.customers", field, "required_for_op")


def test_op_rule_holds_when_built_in_python() -> None:
    with pytest.raises(RuleViolation, match="required_for_op"):
        DebeziumEnvelope(op="d", ts_ms=1, source=customers.decode(json.dumps(CREATE)).source)


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"op": "x"}, "$.op", "enum"),
        ({"after": {**ROW, "country": "GBR"}}, "$.after.country", "max_length"),
        ({"after": {**ROW, "credit_limit": -1}}, "$.after.credit_limit", "ge"),
        ({"after": {**ROW, "created_at": "2024-01-01T00:00:00Z"}}, "$.after.created_at", "type"),
        ({"after": {"customer_id": "c1"}}, "$.after.name", "required"),
        ({"source": {**SOURCE, "txId": "x"}}, "$.source.txId", "type"),
        ({"ts_ms": -1}, "$.ts_ms", "ge"),
        ({"transaction": {"id": "t"}}, "$.transaction.total_order", "required"),
    ],
)
def test_constraints(changes: dict[str, Any], field: str, rule: str) -> None:
    error = error_of(envelope(**changes))
    assert (error.field, error.rule) == (field, rule)


def test_merchant_risk_tier() -> None:
    row = {"merchant_id": "m1", "name": "Shop", "category": "grocery", "country": "FR", "risk_tier": "low"}
    source = {**SOURCE, "table": "merchants"}
    event = merchants.decode(json.dumps(envelope(after=row, source=source)))
    assert event.after == Merchant(**row)
    error = error_of(envelope(after={**row, "risk_tier": "extreme"}, source=source), merchants)
    assert (error.field, error.rule) == ("$.after.risk_tier", "enum")


def test_schemas_enabled_form_is_unwrapped() -> None:
    wrapped = {
        "schema": {"type": "struct", "fields": [], "name": "bank.public.customers.Envelope"},
        "payload": CREATE,
    }
    assert customers.decode(json.dumps(wrapped)) == customers.decode(json.dumps(CREATE))


def test_schemas_enabled_form_errors_point_into_payload() -> None:
    wrapped = {"schema": {}, "payload": envelope(op="d")}
    error = error_of(wrapped)
    assert (error.field, error.rule) == ("$.payload.before", "required_for_op")


def test_plain_form_error_is_kept_when_there_is_no_payload() -> None:
    error = error_of({k: v for k, v in CREATE.items() if k != "source"})
    assert (error.field, error.rule) == ("$.source", "required")


def test_encode_writes_the_plain_form_in_debezium_field_order() -> None:
    data = customers.encode(customers.decode(json.dumps({"schema": {}, "payload": CREATE})))
    assert data.startswith(b'{"before":null,"after":{"customer_id":"c1"')
    assert list(json.loads(data)) == ["before", "after", "source", "op", "ts_ms", "transaction"]


@given(records("cdc_customer"))
def test_customer_round_trip(event: DebeziumEnvelope[Customer]) -> None:
    data = customers.encode(event)
    assert customers.decode(data) == event
    assert customers.encode(customers.decode(data)) == data
    assert customers.decode(b'{"schema":null,"payload":' + data + b"}") == event


@given(records("cdc_merchant"))
def test_merchant_round_trip(event: DebeziumEnvelope[Merchant]) -> None:
    data = merchants.encode(event)
    assert merchants.decode(data) == event

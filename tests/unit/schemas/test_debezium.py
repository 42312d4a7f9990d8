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
    "id": "cust-000001",
    "segment": "standard",
    "country": "GB",
    "credit_limit": 2500.0,
    "account_opened_at": 1_700_000_000_000,
    "risk_flags": ["multi_device"],
}
SOURCE = {
    "version": "3.4.3.Final",
    "connector": "postgresql",
    "name": "cdc",
    "ts_ms": 1_700_000_500_000,
    "snapshot": "false",
    "db": "bank",
    "sequence": '["24023128","24023128"]',
    "schema": "bank",
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
        ({"after": {**ROW, "account_opened_at": "2024-01-01T00:00:00Z"}}, "$.after.account_opened_at", "type"),
        ({"after": {**ROW, "risk_flags": [""]}}, "$.after.risk_flags[0]", "min_length"),
        ({"after": {"id": "c1"}}, "$.after.segment", "required"),
        ({"source": {**SOURCE, "txId": "x"}}, "$.source.txId", "type"),
        ({"ts_ms": -1}, "$.ts_ms", "ge"),
        ({"transaction": {"id": "t"}}, "$.transaction.total_order", "required"),
    ],
)
def test_constraints(changes: dict[str, Any], field: str, rule: str) -> None:
    error = error_of(envelope(**changes))
    assert (error.field, error.rule) == (field, rule)


def test_merchant_row() -> None:
    row = {"id": "merch-00001", "category": "grocery", "country": "FR"}
    source = {**SOURCE, "table": "merchants"}
    event = merchants.decode(json.dumps(envelope(after=row, source=source)))
    assert event.after == Merchant(**row)
    error = error_of(envelope(after={**row, "country": "FRA"}, source=source), merchants)
    assert (error.field, error.rule) == ("$.after.country", "max_length")


def test_a_column_added_to_the_table_is_ignored() -> None:
    """Debezium puts a new column in before/after as one more field (null where the row has no value)."""
    event = customers.decode(
        json.dumps(envelope(after={**ROW, "email": "a@example.com"}, before={**ROW, "email": None}))
    )
    assert event.after == Customer(**ROW)


def test_risk_flags_default_to_none_set() -> None:
    row = {k: v for k, v in ROW.items() if k != "risk_flags"}
    assert customers.decode(json.dumps(envelope(after=row))).after.risk_flags == []


def test_schemas_enabled_form_is_unwrapped() -> None:
    wrapped = {
        "schema": {"type": "struct", "fields": [], "name": "cdc.bank.customers.Envelope"},
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
    assert data.startswith(b'{"before":null,"after":{"id":"cust-000001"')
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

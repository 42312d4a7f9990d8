"""Label on labels.<name>: late ground truth, never before its event."""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from schemas.codec import RecordCodec
from schemas.errors import RuleViolation, SchemaError
from schemas.label import Label
from tests.support.schema_strategies import records

codec = RecordCodec(Label, name="labels.transactions")

VALID = {"event_id": "e1", "label": 1, "ts": 2_000, "event_ts": 1_000, "customer_id": "c1"}


def decode(**changes: object) -> Label:
    return codec.decode(json.dumps({**VALID, **changes}))


def test_defaults() -> None:
    label = codec.decode(b'{"event_id": "e1", "label": 0, "ts": 5}')
    assert label == Label(event_id="e1", label=0, ts=5, customer_id=None, event_ts=None, source="chargeback")


def test_label_at_the_event_time_is_allowed() -> None:
    assert decode(ts=1_000).ts == 1_000


def test_label_before_its_event_names_ts_and_the_rule() -> None:
    with pytest.raises(SchemaError) as info:
        decode(ts=999)
    assert (info.value.field, info.value.rule) == ("$.ts", "not_before_event_ts")
    assert "999" in info.value.detail and "1000" in info.value.detail


def test_rule_also_holds_when_built_in_python() -> None:
    with pytest.raises(RuleViolation) as info:
        Label(event_id="e1", label=1, ts=1, event_ts=2)
    assert (info.value.field, info.value.rule) == ("ts", "not_before_event_ts")


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"label": 2}, "$.label", "enum"),
        ({"label": True}, "$.label", "type"),
        ({"source": "guess"}, "$.source", "enum"),
        ({"event_ts": -5}, "$.event_ts", "ge"),
    ],
)
def test_constraints(changes: dict[str, object], field: str, rule: str) -> None:
    with pytest.raises(SchemaError) as info:
        decode(**changes)
    assert (info.value.field, info.value.rule) == (field, rule)


@given(records("label"))
def test_round_trip(record: Label) -> None:
    data = codec.encode(record)
    assert codec.decode(data) == record
    assert codec.encode(codec.decode(data)) == data

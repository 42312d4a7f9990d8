"""FeatureRow on features.<view>: a window that ends after it starts, typed values."""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from schemas.codec import RecordCodec
from schemas.errors import RuleViolation, SchemaError
from schemas.feature_row import FeatureRow
from tests.support.schema_strategies import records

codec = RecordCodec(FeatureRow, name="features.customer_1h")

VALID = {
    "view": "customer_1h",
    "entity_id": "c1",
    "window_start": 1_000,
    "window_end": 3_601_000,
    "values": {"txn_count": 3, "amount_sum": 41.5, "last_country": "DE", "is_new": False, "gap": None},
}


def decode(**changes: object) -> FeatureRow:
    return codec.decode(json.dumps({**VALID, **changes}))


def test_values_keep_their_json_types() -> None:
    row = decode()
    assert row.values == VALID["values"]
    assert [type(v) for v in row.values.values()] == [int, float, str, bool, type(None)]
    assert row.computed_at is None


def test_window_end_must_be_after_window_start() -> None:
    for end in (1_000, 999):
        with pytest.raises(SchemaError) as info:
            decode(window_end=end)
        assert (info.value.field, info.value.rule) == ("$.window_end", "after_window_start")
    assert decode(window_end=1_001).window_end == 1_001


def test_rule_holds_when_built_in_python() -> None:
    with pytest.raises(RuleViolation, match="after_window_start"):
        FeatureRow(view="v", entity_id="e", window_start=5, window_end=5, values={})


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"values": {"x": [1, 2]}}, "$.values[...]", "type"),
        ({"values": {"": 1}}, "$.values[<key>]", "min_length"),
        ({"values": [1]}, "$.values", "type"),
        ({"view": ""}, "$.view", "min_length"),
        ({"window_start": -1}, "$.window_start", "ge"),
        ({"computed_at": 1.5}, "$.computed_at", "type"),
    ],
)
def test_constraints(changes: dict[str, object], field: str, rule: str) -> None:
    with pytest.raises(SchemaError) as info:
        decode(**changes)
    assert (info.value.field, info.value.rule) == (field, rule)


@given(records("feature_row"))
def test_round_trip(record: FeatureRow) -> None:
    data = codec.encode(record)
    assert codec.decode(data) == record
    assert codec.encode(codec.decode(data)) == data

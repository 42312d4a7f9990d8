"""DriftEvent on monitoring.drift: detector, statistic against threshold, a window, a severity."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given

from schemas.codec import RecordCodec
from schemas.drift import DriftEvent
from schemas.errors import RuleViolation, SchemaError
from tests.support.schema_strategies import records

codec = RecordCodec(DriftEvent, name="monitoring.drift")

VALID = {
    "model": "fraud",
    "detector": "psi",
    "feature": "amount_sum_1h",
    "statistic": 0.31,
    "threshold": 0.2,
    "window_start": 1_000,
    "window_end": 2_000,
    "severity": "critical",
    "ts": 2_000,
}


def decode(**changes: object) -> DriftEvent:
    return codec.decode(json.dumps({**VALID, **changes}))


def test_feature_is_required_but_may_be_null() -> None:
    assert decode(feature=None).feature is None
    with pytest.raises(SchemaError) as info:
        codec.decode(json.dumps({k: v for k, v in VALID.items() if k != "feature"}))
    assert (info.value.field, info.value.rule) == ("$.feature", "required")


def test_empty_window_is_allowed_reversed_is_not() -> None:
    assert decode(window_end=1_000).window_end == 1_000
    with pytest.raises(SchemaError) as info:
        decode(window_end=999)
    assert (info.value.field, info.value.rule) == ("$.window_end", "not_before_window_start")


@pytest.mark.parametrize("field", ["statistic", "threshold"])
def test_numbers_must_be_finite(field: str) -> None:
    with pytest.raises(RuleViolation) as info:
        DriftEvent(**{**VALID, field: math.nan})
    assert (info.value.field, info.value.rule) == (field, "finite")


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"severity": "fatal"}, "$.severity", "enum"),
        ({"statistic": None}, "$.statistic", "type"),
        ({"detector": ""}, "$.detector", "min_length"),
        ({"version": 3}, "$.version", "type"),
    ],
)
def test_constraints(changes: dict[str, object], field: str, rule: str) -> None:
    with pytest.raises(SchemaError) as info:
        decode(**changes)
    assert (info.value.field, info.value.rule) == (field, rule)


@given(records("drift_event"))
def test_round_trip(record: DriftEvent) -> None:
    data = codec.encode(record)
    assert codec.decode(data) == record
    assert codec.encode(codec.decode(data)) == data

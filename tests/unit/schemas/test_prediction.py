"""Prediction on predictions.<model>: a finite score, a 0/1 label, the features as scored."""

from __future__ import annotations

import json
import math

import msgspec
import pytest
from hypothesis import given

from schemas.codec import RecordCodec
from schemas.errors import RuleViolation, SchemaError
from schemas.prediction import Prediction
from tests.support.schema_strategies import records

codec = RecordCodec(Prediction, name="predictions.fraud")

VALID = {
    "event_id": "e1",
    "model": "fraud",
    "version": "7",
    "score": 0.93,
    "label": 1,
    "features": {"txn_count_1h": 3.0, "amount_sum_1h": None},
    "ts": 1_000,
    "scored_at": 1_012,
}


def decode(**changes: object) -> Prediction:
    return codec.decode(json.dumps({**VALID, **changes}))


def test_defaults() -> None:
    prediction = decode()
    assert prediction.latency_ms is None and prediction.shadow is False
    assert prediction.features == {"txn_count_1h": 3.0, "amount_sum_1h": None}


def test_integer_features_are_read_as_floats() -> None:
    assert decode(features={"n": 3}).features == {"n": 3.0}


@pytest.mark.parametrize("score", [math.nan, math.inf, -math.inf])
def test_score_must_be_finite(score: float) -> None:
    with pytest.raises(RuleViolation) as info:
        Prediction(**{**VALID, "score": score})
    assert (info.value.field, info.value.rule) == ("score", "finite")
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({**VALID, "score": score}, Prediction)


def test_latency_must_be_finite_and_not_negative() -> None:
    with pytest.raises(RuleViolation, match="finite"):
        Prediction(**{**VALID, "latency_ms": math.inf})
    with pytest.raises(SchemaError) as info:
        decode(latency_ms=-0.5)
    assert (info.value.field, info.value.rule) == ("$.latency_ms", "ge")


def test_scored_before_event_time_is_allowed_clocks_differ() -> None:
    assert decode(scored_at=900).scored_at == 900


def test_score_out_of_float_range_is_named() -> None:
    data = json.dumps(VALID).replace('"score": 0.93', '"score": 1e999')
    with pytest.raises(SchemaError) as info:
        codec.decode(data)
    assert (info.value.field, info.value.rule) == ("$.score", "range")


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"score": "0.9"}, "$.score", "type"),
        ({"label": 0.5}, "$.label", "type"),
        ({"label": 3}, "$.label", "enum"),
        ({"features": {"x": "high"}}, "$.features[...]", "type"),
        ({"shadow": "yes"}, "$.shadow", "type"),
        ({"model": ""}, "$.model", "min_length"),
    ],
)
def test_constraints(changes: dict[str, object], field: str, rule: str) -> None:
    with pytest.raises(SchemaError) as info:
        decode(**changes)
    assert (info.value.field, info.value.rule) == (field, rule)


@given(records("prediction"))
def test_round_trip(record: Prediction) -> None:
    data = codec.encode(record)
    assert codec.decode(data) == record
    assert codec.encode(codec.decode(data)) == data

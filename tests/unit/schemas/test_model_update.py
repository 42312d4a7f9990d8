"""ModelUpdate on models.updates: an alias change with a verifiable artifact."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given

from schemas.codec import RecordCodec
from schemas.errors import RuleViolation, SchemaError
from schemas.model_update import ModelUpdate
from tests.support.schema_strategies import records

codec = RecordCodec(ModelUpdate, name="models.updates")

SHA = "0123456789abcdef" * 4
VALID = {
    "model": "fraud",
    "version": "8",
    "alias": "champion",
    "artifact_uri": "models:/fraud/8/model.onnx",
    "sha256": SHA,
    "ts": 5_000,
}


def decode(**changes: object) -> ModelUpdate:
    return codec.decode(json.dumps({**VALID, **changes}))


def test_defaults_and_fresh_metrics_per_record() -> None:
    first, second = decode(), decode()
    assert (first.action, first.previous_version, first.metrics) == ("promoted", None, {})
    first.metrics["auc"] = 0.9
    assert second.metrics == {}
    assert ModelUpdate(**VALID).metrics is not ModelUpdate(**VALID).metrics


@pytest.mark.parametrize("sha", [SHA.upper(), SHA[:-1], SHA + "0", "g" * 64])
def test_sha256_is_64_lowercase_hex(sha: str) -> None:
    with pytest.raises(SchemaError) as info:
        decode(sha256=sha)
    assert (info.value.field, info.value.rule) == ("$.sha256", "pattern")


def test_previous_version_must_differ() -> None:
    assert decode(action="rolled_back", previous_version="9").previous_version == "9"
    with pytest.raises(SchemaError) as info:
        decode(previous_version="8")
    assert (info.value.field, info.value.rule) == ("$.previous_version", "differs_from_version")


def test_metrics_must_be_finite() -> None:
    with pytest.raises(RuleViolation) as info:
        ModelUpdate(**VALID, metrics={"auc": math.nan})
    assert (info.value.field, info.value.rule) == ("metrics.auc", "finite")
    with pytest.raises(SchemaError) as error:
        decode(metrics={"auc": "high"})
    assert (error.value.field, error.value.rule) == ("$.metrics[...]", "type")


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"action": "deleted"}, "$.action", "enum"),
        ({"artifact_uri": ""}, "$.artifact_uri", "min_length"),
        ({"alias": None}, "$.alias", "type"),
    ],
)
def test_constraints(changes: dict[str, object], field: str, rule: str) -> None:
    with pytest.raises(SchemaError) as info:
        decode(**changes)
    assert (info.value.field, info.value.rule) == (field, rule)


@given(records("model_update"))
def test_round_trip(record: ModelUpdate) -> None:
    data = codec.encode(record)
    assert codec.decode(data) == record
    assert codec.encode(codec.decode(data)) == data

"""SchemaError names the field (a JSON path) and the rule, whatever msgspec or a record reports."""

from __future__ import annotations

import pickle
from typing import Annotated, Literal

import msgspec
import pytest

from schemas.errors import RuleViolation, SchemaError


class Probe(msgspec.Struct, forbid_unknown_fields=True):
    ge: Annotated[int, msgspec.Meta(ge=0)] = 0
    gt: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    le: Annotated[int, msgspec.Meta(le=5)] = 0
    short: Annotated[str, msgspec.Meta(min_length=2)] = "xx"
    long: Annotated[str, msgspec.Meta(max_length=2)] = ""
    code: Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$")] = "DE"
    kind: Literal["a", "b"] = "a"
    tags: Annotated[list[int], msgspec.Meta(max_length=1)] = []
    attrs: Annotated[dict[str, int], msgspec.Meta(max_length=1)] = {}
    even: Annotated[int, msgspec.Meta(multiple_of=2)] = 0
    ratio: float = 0.0
    n: int = 0


class Inner(msgspec.Struct):
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise RuleViolation("end", "not_before_start", "end before start")


class Outer(msgspec.Struct):
    spans: list[Inner]
    needed: int = 0


def error_for(data: bytes, type_: type = Probe) -> SchemaError:
    with pytest.raises(msgspec.MsgspecError) as info:
        msgspec.json.decode(data, type=type_)
    return SchemaError.from_msgspec("probe", info.value)


@pytest.mark.parametrize(
    ("data", "field", "rule"),
    [
        (b'{"ge": -1}', "$.ge", "ge"),
        (b'{"gt": 0}', "$.gt", "gt"),
        (b'{"le": 6}', "$.le", "le"),
        (b'{"short": "x"}', "$.short", "min_length"),
        (b'{"long": "xxx"}', "$.long", "max_length"),
        (b'{"code": "de"}', "$.code", "pattern"),
        (b'{"kind": "c"}', "$.kind", "enum"),
        (b'{"tags": [1, 2]}', "$.tags", "length"),
        (b'{"attrs": {"a": 1, "b": 2}}', "$.attrs", "length"),
        (b'{"even": 3}', "$.even", "multiple_of"),
        (b'{"ratio": 1e999}', "$.ratio", "range"),
        (b'{"n": "1"}', "$.n", "type"),
        (b'{"n": 1.5}', "$.n", "type"),
        (b"[1]", "$", "type"),
        (b'{"surprise": 1}', "$.surprise", "unknown_field"),
        (b'{"n": 1,}', "$", "json"),
        (b'{"n": ', "$", "json"),
        (b"\xff", "$", "json"),
    ],
)
def test_msgspec_errors_name_field_and_rule(data: bytes, field: str, rule: str) -> None:
    error = error_for(data)
    assert (error.field, error.rule) == (field, rule)
    assert error.record == "probe"
    assert " - at `" not in error.detail


def test_missing_field_names_the_field_not_its_parent() -> None:
    error = error_for(b'{"spans": [{"start": 1}]}', Outer)
    assert (error.field, error.rule) == ("$.spans[0].end", "required")


def test_rule_violation_is_joined_to_the_record_path() -> None:
    error = error_for(b'{"spans": [{"start": 1, "end": 2}, {"start": 5, "end": 3}]}', Outer)
    assert (error.field, error.rule, error.detail) == (
        "$.spans[1].end",
        "not_before_start",
        "end before start",
    )


def test_rule_violation_at_top_level() -> None:
    error = error_for(b'{"start": 5, "end": 3}', Inner)
    assert (error.field, error.rule) == ("$.end", "not_before_start")


def test_rule_violation_is_parsed_from_the_message_when_the_cause_is_lost() -> None:
    exc = msgspec.ValidationError("`end` breaks rule `not_before_start`: end before start - at `$.spans[1]`")
    error = SchemaError.from_msgspec("probe", exc)
    assert (error.field, error.rule, error.detail) == (
        "$.spans[1].end",
        "not_before_start",
        "end before start",
    )


def test_plain_value_error_in_post_init_is_invalid_at_its_path() -> None:
    class Legacy(msgspec.Struct):
        x: int

        def __post_init__(self) -> None:
            raise ValueError("nope")

    error = error_for(b'{"x": 1}', Legacy)
    assert (error.field, error.rule, error.detail) == ("$", "invalid", "nope")


def test_rule_violation_reads_well_when_raised_directly() -> None:
    violation = RuleViolation("window_end", "after_window_start", "5 must be after 10")
    assert isinstance(violation, ValueError)
    assert str(violation) == "`window_end` breaks rule `after_window_start`: 5 must be after 10"


def test_schema_error_message_and_pickle() -> None:
    error = SchemaError("events.transactions", "$.amount", "gt", "Expected `float` > 0.0")
    assert str(error) == "events.transactions: field `$.amount` breaks rule `gt`: Expected `float` > 0.0"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.record, copy.field, copy.rule, copy.detail) == (
        error.record,
        error.field,
        error.rule,
        error.detail,
    )


def test_dict_key_errors_point_at_the_key() -> None:
    class Keys(msgspec.Struct):
        attrs: dict[Annotated[str, msgspec.Meta(min_length=1)], int]

    error = error_for(b'{"attrs": {"": 1}}', Keys)
    assert (error.field, error.rule) == ("$.attrs[<key>]", "min_length")

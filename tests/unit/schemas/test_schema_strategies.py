"""The shared hypothesis strategies draw valid records of every registered type."""

from __future__ import annotations

from typing import Any, get_origin

import msgspec
from hypothesis import given

from schemas.registry import RECORD_TYPES
from tests.support.schema_strategies import RECORD_STRATEGIES, valid_records


def test_a_strategy_for_every_record_type() -> None:
    assert set(RECORD_STRATEGIES) == set(RECORD_TYPES)


@given(valid_records())
def test_drawn_records_have_the_registered_type_and_pass_validation(named: tuple[str, Any]) -> None:
    name, record = named
    record_type = RECORD_TYPES[name]
    assert isinstance(record, get_origin(record_type) or record_type)
    # Re-validating through msgspec runs every constraint and __post_init__ rule.
    assert msgspec.convert(msgspec.to_builtins(record), record_type) == record

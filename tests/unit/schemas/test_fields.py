"""Shared field helpers: the finite and ordering rules and their names."""

from __future__ import annotations

import math

import pytest

from schemas.errors import RuleViolation
from schemas.fields import require_finite, require_order


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_require_finite_rejects(value: float) -> None:
    with pytest.raises(RuleViolation) as info:
        require_finite("score", value)
    assert (info.value.field, info.value.rule) == ("score", "finite")


@pytest.mark.parametrize("value", [None, 0.0, -1e308, 1e308])
def test_require_finite_accepts(value: float | None) -> None:
    require_finite("score", value)


def test_require_order_strict() -> None:
    require_order("end", 2, "start", 1, strict=True)
    for end in (1, 0):
        with pytest.raises(RuleViolation) as info:
            require_order("end", end, "start", 1, strict=True)
        assert (info.value.field, info.value.rule) == ("end", "after_start")


def test_require_order_lenient() -> None:
    require_order("end", 1, "start", 1, strict=False)
    with pytest.raises(RuleViolation) as info:
        require_order("end", 0, "start", 1, strict=False)
    assert (info.value.field, info.value.rule) == ("end", "not_before_start")
    assert info.value.detail == "end 0 must not be before start 1"

"""Field types shared by the records: epoch milliseconds, ids, names, ISO codes.

Constraints live in ``msgspec.Meta`` so the decoder checks them in the same pass and the JSON Schema
export shows them.
"""

from __future__ import annotations

import math
from typing import Annotated

import msgspec

from schemas.errors import RuleViolation

# Upper bound: 3000-01-01. A value in seconds or microseconds by mistake fails ``le`` or looks like 1970.
EpochMs = Annotated[int, msgspec.Meta(ge=0, le=32_503_680_000_000, description="epoch milliseconds (UTC)")]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
# ISO codes are checked by length only: a regex per field costs more than half of the decode rate of a
# transaction (docs/decisions/0004). Producers send them upper case, as ISO writes them.
CountryCode = Annotated[
    str, msgspec.Meta(min_length=2, max_length=2, description="ISO 3166-1 alpha-2, upper case (e.g. DE)")
]
CurrencyCode = Annotated[str, msgspec.Meta(min_length=3, max_length=3, description="ISO 4217, upper case (e.g. EUR)")]
Sha256 = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$", description="lowercase hex sha256")]


def require_finite(field: str, value: float | None) -> None:
    """Raise ``RuleViolation`` rule ``finite`` for NaN or infinity.

    JSON cannot carry them, so this bites when a record is built in Python (a model emitting NaN).
    """
    if value is not None and not math.isfinite(value):
        raise RuleViolation(field, "finite", f"must be a finite number, got {value!r}")


def require_order(later: str, later_value: int, earlier: str, earlier_value: int, *, strict: bool) -> None:
    """Raise ``RuleViolation`` on ``later`` unless it comes after (``strict``) or at/after ``earlier``.

    Rule names: ``after_<earlier>`` (strict) and ``not_before_<earlier>``.
    """
    if strict and later_value <= earlier_value:
        raise RuleViolation(later, f"after_{earlier}", f"{later} {later_value} must be after {earlier} {earlier_value}")
    if not strict and later_value < earlier_value:
        raise RuleViolation(
            later,
            f"not_before_{earlier}",
            f"{later} {later_value} must not be before {earlier} {earlier_value}",
        )

"""Validation errors that name the field and the rule it broke."""

from __future__ import annotations

import re

import msgspec

# msgspec phrases its errors as "<what went wrong> - at `$.path.to[0].field`".
_AT_PATH = re.compile(r" - at `(?P<path>[^`]*)`$")

_RULES: tuple[tuple[str, str], ...] = (
    ("Object missing required field", "required"),
    ("Object contains unknown field", "unknown_field"),
    ("Invalid enum value", "enum"),
    ("Invalid value", "enum"),
    ("Expected `object`, got", "type"),
    ("Expected `array`, got", "type"),
    ("Expected `str` of length >=", "min_length"),
    ("Expected `str` of length <=", "max_length"),
    ("Expected `str` matching regex", "pattern"),
    ("Expected `array` of length", "length"),
    ("Expected `object` of length", "length"),
    (" >= ", "ge"),
    (" > ", "gt"),
    (" <= ", "le"),
    (" < ", "lt"),
    ("Expected", "type"),
    ("JSON is malformed", "json"),
    ("Input data was truncated", "json"),
    ("Invalid epoch", "type"),
)


class SchemaError(ValueError):
    """A record does not match its schema.

    ``field`` is a JSON path (``$.amount``), ``rule`` a short machine name (``required``, ``type``,
    ``gt``, ``enum``, ``json``, ``max_bytes`` ...), ``detail`` the human sentence. Consumers route the
    record to ``dlq.<topic>`` with these in the headers; nothing else is ever raised by a decoder.
    """

    def __init__(self, record: str, field: str, rule: str, detail: str) -> None:
        self.record = record
        self.field = field
        self.rule = rule
        self.detail = detail
        super().__init__(f"{record}: field `{field}` breaks rule `{rule}`: {detail}")

    @classmethod
    def from_msgspec(cls, record: str, exc: msgspec.MsgspecError) -> SchemaError:
        text = str(exc)
        match = _AT_PATH.search(text)
        field = match.group("path") if match else "$"
        detail = text[: match.start()] if match else text
        if detail.startswith("Object missing required field"):
            name = detail.split("`")[1] if "`" in detail else ""
            field = f"{field}.{name}" if name else field
        rule = next((name for needle, name in _RULES if needle in detail), "invalid")
        if isinstance(exc, msgspec.DecodeError) and not isinstance(exc, msgspec.ValidationError):
            rule = "json"
        return cls(record, field, rule, detail)

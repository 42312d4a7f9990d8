"""Validation errors that name the field and the rule it broke.

Two kinds of failure end up as one ``SchemaError``:

- type and constraint failures found by msgspec while decoding (``required``, ``type``, ``gt`` ...),
  translated from msgspec's message by ``SchemaError.from_msgspec``;
- cross-field rules checked in a record's ``__post_init__``, which raise ``RuleViolation``. msgspec
  wraps it in a ``ValidationError`` (keeping it as ``__cause__``) and adds the path of the record;
  ``from_msgspec`` joins that path with the violation's field, so a rule on a nested row reads
  ``$.after.updated_at``.
"""

from __future__ import annotations

import re

import msgspec

# msgspec phrases its errors as "<what went wrong> - at `$.path.to[0].field`", or for a dict key
# "... - at `key` in `$.values`" (reported here as ``$.values[<key>]``).
_AT_PATH = re.compile(r" - at (?:`(?P<key>key)` in )?`(?P<path>[^`]*)`$")
# str(RuleViolation), for when msgspec does not keep the exception as __cause__.
_VIOLATION = re.compile(r"^`(?P<field>[^`]+)` breaks rule `(?P<rule>[^`]+)`: (?P<detail>.*)$", re.DOTALL)

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
    ("multiple of", "multiple_of"),
    (" >= ", "ge"),
    (" > ", "gt"),
    (" <= ", "le"),  # msgspec reports ``lt=5`` on an int as ``<= 4``
    (" < ", "lt"),
    ("Number out of range", "range"),
    ("Expected", "type"),
    ("JSON is malformed", "json"),
    ("Input data was truncated", "json"),
    ("Invalid epoch", "type"),
)


class RuleViolation(ValueError):
    """A cross-field rule broken inside a record's ``__post_init__``.

    ``field`` is the field's name relative to the record (``window_end``), ``rule`` a short machine
    name (``after_window_start``). Raised as is when a record is built in Python; turned into a
    ``SchemaError`` when it happens while decoding.
    """

    def __init__(self, field: str, rule: str, detail: str) -> None:
        self.field = field
        self.rule = rule
        self.detail = detail
        super().__init__(f"`{field}` breaks rule `{rule}`: {detail}")


class SchemaError(ValueError):
    """A record does not match its schema.

    ``field`` is a JSON path (``$.amount``), ``rule`` a short machine name (``required``, ``type``,
    ``gt``, ``enum``, ``json``, ``max_bytes`` or a cross-field rule such as ``after_window_start``),
    ``detail`` the human sentence. Consumers route the record to ``dlq.<topic>`` with these in the
    headers; nothing else is ever raised by a decoder.
    """

    def __init__(self, record: str, field: str, rule: str, detail: str) -> None:
        self.record = record
        self.field = field
        self.rule = rule
        self.detail = detail
        super().__init__(f"{record}: field `{field}` breaks rule `{rule}`: {detail}")

    def __reduce__(self) -> tuple[type[SchemaError], tuple[str, str, str, str]]:
        return (type(self), (self.record, self.field, self.rule, self.detail))

    @classmethod
    def from_msgspec(cls, record: str, exc: msgspec.MsgspecError) -> SchemaError:
        text = str(exc)
        match = _AT_PATH.search(text)
        path = match.group("path") if match else "$"
        if match and match.group("key"):
            path += "[<key>]"
        detail = text[: match.start()] if match else text

        violation = _violation(exc, detail)
        if violation is not None:
            field, rule, detail = violation
            return cls(record, _join(path, field), rule, detail)

        field = path
        if detail.startswith(("Object missing required field", "Object contains unknown field")):
            name = detail.split("`")[1] if "`" in detail else ""
            field = _join(path, name) if name else path
        rule = next((name for needle, name in _RULES if needle in detail), "invalid")
        if isinstance(exc, msgspec.DecodeError) and not isinstance(exc, msgspec.ValidationError):
            rule = "json"
        return cls(record, field, rule, detail)


def _violation(exc: BaseException, detail: str) -> tuple[str, str, str] | None:
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, RuleViolation):
        return cause.field, cause.rule, cause.detail
    match = _VIOLATION.match(detail)
    if match:
        return match.group("field"), match.group("rule"), match.group("detail")
    return None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}"

"""Compile the rules of a record schema (a msgspec Struct of ``schemas/``) into Flink SQL.

The Flink job reads each event's raw value and must route what does not parse or validate to
``dlq.<topic>`` instead of dropping it. A Python UDF calling the schema's codec would be exact but
runs an order of magnitude below the job's input rate, and checking every field with its own JSON
function parses the document once per check (measured: ~4k events/s). So the job parses each record
once (``RTML_JSON_FIELDS``, a Java function giving the fields it is asked for as an array; Flink's own
``JSON_VALUE`` parses the whole document for every field) and checks the schema's rules for the fields
it reads on their text:
required, integer/number syntax, numeric bounds, string lengths, literal sets, the type tag, and that
the value is a JSON object. The rules come from the schema itself, so there is no hand-written copy
to drift (docs/decisions/0005).

Not checked here, because the job does not read them: fields no feature uses (every Python consumer
still validates whole records with the codec). A JSON null reads as NULL like a missing key,
so a null in a required field reports rule ``required`` where the codec says ``type``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
from msgspec import inspect as mi


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A table or view name part from a source or view name."""
    return name.replace(".", "_").replace("-", "_")


def startup_options(kafka: Any) -> str:
    """The Kafka source's start (group offsets, else ``kafka.startup_mode``) and, for a bounded run, its end."""
    startup = (
        "'scan.startup.mode' = 'group-offsets', 'properties.auto.offset.reset' = 'earliest'"
        if kafka.startup_mode == "group-offsets"
        else f"'scan.startup.mode' = {quote(kafka.startup_mode)}"
    )
    return startup + (", 'scan.bounded.mode' = 'latest-offset'" if kafka.bounded else "")


def dead_letter_headers(*, topic: str, component: str, message: str, field: str, rule: str) -> str:
    """``MAP[...]`` items of a dead letter's headers (``schemas/dlq.py``); the arguments are SQL expressions except
    ``topic`` and ``component`` (text)."""

    def b(expr: str) -> str:
        return f"CAST({expr} AS BYTES)"

    return ", ".join(
        [
            f"'rtml.error.class', {b(quote('schemas.errors.SchemaError'))}",
            f"'rtml.error.message', {b(message)}",
            f"'rtml.error.field', {b(field)}",
            f"'rtml.error.rule', {b(rule)}",
            f"'rtml.component', {b(quote(component))}",
            f"'rtml.source.topic', {b(quote(topic))}",
            f"'rtml.source.partition', {b('CAST(`partition` AS STRING)')}",
            f"'rtml.source.offset', {b('CAST(`offset` AS STRING)')}",
            f"'rtml.failed_at', {b('CAST(1000 * UNIX_TIMESTAMP() AS STRING)')}",
        ]
    )


def column(field: str) -> str:
    """The column holding a field's raw JSON text."""
    return f"`f_{field}`"


@dataclass(frozen=True)
class ExtractedField:
    name: str
    sql_type: str  # the type the job casts the text to
    checks: tuple[tuple[str, str], ...]  # (rule, boolean SQL that is TRUE when the rule holds)


def _unwrap(t: Any) -> Any:
    while True:
        if isinstance(t, mi.Metadata):
            t = t.type
        elif isinstance(t, mi.UnionType):
            others = [x for x in t.types if not isinstance(x, mi.NoneType)]
            if len(others) != 1:
                return t
            t = others[0]
        else:
            return t


def _field_checks(t: Any, text: str) -> tuple[str, list[tuple[str, str]]]:
    if isinstance(t, mi.StrType):
        checks = []
        if t.min_length is not None:
            checks.append(("min_length", f"CHAR_LENGTH({text}) >= {t.min_length}"))
        if t.max_length is not None:
            checks.append(("max_length", f"CHAR_LENGTH({text}) <= {t.max_length}"))
        return "STRING", checks
    if isinstance(t, mi.LiteralType):
        return "STRING", [("enum", f"{text} IN ({', '.join(quote(str(v)) for v in t.values)})")]
    if isinstance(t, mi.IntType | mi.FloatType):
        sql_type = "BIGINT" if isinstance(t, mi.IntType) else "DOUBLE"
        pattern = "^-?[0-9]+$" if sql_type == "BIGINT" else "^-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$"
        number = f"TRY_CAST({text} AS {sql_type})"
        checks = [("type", f"REGEXP({text}, {quote(pattern)}) AND {number} IS NOT NULL")]
        for rule, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            bound = getattr(t, rule)
            if bound is not None:
                checks.append((rule, f"{number} {op} {bound}"))
        return sql_type, checks
    if isinstance(t, mi.BoolType):
        return "BOOLEAN", [("type", f"{text} IN ('true', 'false')")]
    raise TypeError(f"cannot read a field of type {t} in the Flink job")


def extracted_fields(schema: type[msgspec.Struct], names: Iterable[str]) -> list[ExtractedField]:
    info = mi.type_info(schema)
    assert isinstance(info, mi.StructType)
    by_name = {f.name: f for f in info.fields}
    out = []
    for name in dict.fromkeys(names):
        f = by_name[name]
        text = column(name)
        sql_type, checks = _field_checks(_unwrap(f.type), text)
        required = [("required", f"{text} IS NOT NULL")] if f.required else []
        guarded = [(rule, ok if f.required else f"({text} IS NULL OR {ok})") for rule, ok in checks]
        out.append(ExtractedField(name, sql_type, tuple(required + guarded)))
    return out


def json_names(schema: type[msgspec.Struct], names: Iterable[str]) -> list[str]:
    """The top-level fields ``RTML_JSON_FIELDS`` is asked for, in its result's order: the type tag (when the
    schema has one), then each field once."""
    info = mi.type_info(schema)
    assert isinstance(info, mi.StructType)
    tag = [info.tag_field] if info.tag_field is not None else []
    return list(dict.fromkeys([*tag, *names]))


def json_fields_call(function: str, raw: str, schema: type[msgspec.Struct], names: Iterable[str]) -> str:
    """``RTML_JSON_FIELDS(raw, 'a', 'b', ...)``: the fields' text as an ``ARRAY<STRING>`` from one parse, NULL
    when the value is not one JSON object. Every call over a record names the same fields, so the function's
    per-thread cache serves them all from one parse."""
    return f"{function}({raw}, {', '.join(quote(n) for n in json_names(schema, names))})"


def json_field(m: str, schema: type[msgspec.Struct], names: Iterable[str], name: str) -> str:
    """One field's text out of ``m``, the result of ``json_fields_call`` over the same names (1-based)."""
    return f"{m}[{json_names(schema, names).index(name) + 1}]"


def extraction(schema: type[msgspec.Struct], names: Iterable[str], m: str = "`m`") -> list[str]:
    """SELECT items over ``m``, the record's fields from one parse (``json_fields_call`` over the same names):
    the object check, the type tag, and each field's text."""
    info = mi.type_info(schema)
    assert isinstance(info, mi.StructType)
    names = list(names)
    items = [f"{m} IS NOT NULL AS `is_object`"]
    if info.tag_field is not None:
        items.append(f"{json_field(m, schema, names, info.tag_field)} AS `tag`")
    items += [f"{json_field(m, schema, names, name)} AS {column(name)}" for name in dict.fromkeys(names)]
    return items


def validation_case(schema: type[msgspec.Struct], names: Iterable[str]) -> str:
    """``CASE ... END``: NULL for a valid record, else ``'<rule>|<field>'`` of the first broken rule."""
    info = mi.type_info(schema)
    assert isinstance(info, mi.StructType)
    whens = ["WHEN NOT COALESCE(`is_object`, FALSE) THEN 'json|$'"]
    if info.tag_field is not None:
        whens.append(f"WHEN `tag` IS NOT NULL AND `tag` <> {quote(str(info.tag))} THEN 'enum|$.{info.tag_field}'")
    for f in extracted_fields(schema, names):
        whens += [f"WHEN NOT COALESCE({ok}, FALSE) THEN {quote(f'{rule}|$.{f.name}')}" for rule, ok in f.checks]
    body = "\n    ".join(whens)
    return f"CASE\n    {body}\n    ELSE CAST(NULL AS STRING)\n  END"

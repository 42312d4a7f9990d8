"""Offline table layouts: which Delta table a topic lands in, its Arrow schema, and batch conversion.

Pure: no Kafka, no Delta. One layout per topic kind:

- ``features.<view>`` -> ``features/<view>``: ``entity_id``, ``window_start``, ``window_end`` (epoch ms),
  one nullable column per feature in the view's fixed order with its dtype, ``computed_at``;
  partitioned by the UTC date of ``window_end`` (the row becomes valid at the end of its window).
- ``events.transactions`` -> ``events/transactions``: the ``Transaction`` fields; date of ``ts``.
- ``labels.<name>`` -> ``labels/<name>``: the ``Label`` fields; date of ``ts``.

Every table ends with the provenance columns ``_topic``, ``_partition``, ``_offset`` (the Kafka record
the row came from: unique per row, what exactly-once is checked by), ``_ingested_at`` (epoch ms of the
batch) and the partition column ``date`` ("YYYY-MM-DD", UTC). Event columns are derived from the
``schemas/`` structs, so a field added there becomes a column (the store merges new nullable columns).

A record that cannot become a row (a feature row of another view, an unknown feature, a value of the
wrong type) is returned as rejected with a ``SchemaError`` for the dead-letter topic; a tombstone
(``record`` None, a deleted key on a compacted topic) is not a row and is only counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any, Protocol

import msgspec
import pyarrow as pa

from feature_pipelines.definitions import AnyView, Source
from feature_pipelines.repository import get_view
from schemas.errors import SchemaError
from schemas.label import Label
from schemas.transaction import Transaction

DAY_MS = 86_400_000
PARTITION_BY: tuple[str, ...] = ("date",)
PROVENANCE: tuple[pa.Field, ...] = (
    pa.field("_topic", pa.string(), nullable=False),
    pa.field("_partition", pa.int32(), nullable=False),
    pa.field("_offset", pa.int64(), nullable=False),
    pa.field("_ingested_at", pa.int64(), nullable=False),
)
DATE = pa.field("date", pa.string(), nullable=False)
_DTYPES = {"int64": pa.int64(), "float64": pa.float64()}


class SourceRecord(Protocol):
    """What conversion needs of a consumed record (``rtml.kafka.consumer.Received`` fits)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def record(self) -> Any: ...


@dataclass(frozen=True)
class TableLayout:
    """``extract`` turns one record into the values of ``columns`` (raising ``SchemaError``);
    ``event_time`` gives the epoch ms whose UTC date partitions the row."""

    topic: str
    table: str
    columns: tuple[pa.Field, ...]
    extract: Callable[[Any], Sequence[Any]]
    event_time: Callable[[Any], int]
    schema: pa.Schema = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "schema", pa.schema([*self.columns, *PROVENANCE, DATE]))


@dataclass(frozen=True)
class Conversion:
    table: pa.Table
    rejected: list[tuple[SourceRecord, SchemaError]]
    tombstones: int


def layout_for(topic: str) -> TableLayout:
    """The layout of ``topic``; ``ValueError`` for a topic the offline store does not archive."""
    kind, _, name = topic.partition(".")
    if kind == "features" and name:
        return _feature_layout(topic, get_view(name))
    if topic == "events.transactions":
        return _struct_layout(topic, "events/transactions", Transaction, "ts")
    if kind == "labels" and name:
        return _struct_layout(topic, f"labels/{name}", Label, "ts")
    raise ValueError(
        f"no offline table for topic {topic!r}: archived are features.<view>, events.transactions, labels.*"
    )


def view_layout(view: AnyView) -> TableLayout:
    """The offline table of ``view`` (any view object, declared in the repository or not)."""
    return _feature_layout(view.topic, view)


def source_layout(source: Source) -> TableLayout:
    """The offline table of a source's raw events: ``events/<topic minus "events.">`` for the
    project's event topics (``events/transactions``), else ``events/<source name>``."""
    kind, _, name = source.topic.partition(".")
    table = f"events/{name}" if kind == "events" and name else f"events/{source.name}"
    return _struct_layout(source.topic, table, source.schema, source.event_time_field)


def to_arrow(layout: TableLayout, records: Iterable[SourceRecord], *, ingested_at: int) -> Conversion:
    """One Arrow table with ``layout.schema`` from ``records`` (all of ``layout.topic``)."""
    rows: list[Sequence[Any]] = []
    kept: list[SourceRecord] = []
    dates: list[str] = []
    rejected: list[tuple[SourceRecord, SchemaError]] = []
    tombstones = 0
    for item in records:
        if item.record is None:
            tombstones += 1
            continue
        try:
            values = layout.extract(item.record)
        except SchemaError as exc:
            rejected.append((item, exc))
            continue
        rows.append(values)
        kept.append(item)
        dates.append(utc_date(layout.event_time(item.record)))
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in layout.columns]
    arrays = [pa.array(values, type=f.type) for values, f in zip(columns, layout.columns, strict=True)]
    arrays += [
        pa.array([r.topic for r in kept], pa.string()),
        pa.array([r.partition for r in kept], pa.int32()),
        pa.array([r.offset for r in kept], pa.int64()),
        pa.array([ingested_at] * len(kept), pa.int64()),
        pa.array(dates, pa.string()),
    ]
    return Conversion(pa.Table.from_arrays(arrays, schema=layout.schema), rejected, tombstones)


@lru_cache(maxsize=4096)
def _date_of_day(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")


def utc_date(epoch_ms: int) -> str:
    """``YYYY-MM-DD`` of ``epoch_ms`` in UTC."""
    return _date_of_day(epoch_ms // DAY_MS)


# --- events and labels: columns from the schemas/ struct ---------------------------------------


def _arrow_type(info: msgspec.inspect.Type) -> tuple[pa.DataType, bool]:
    """Arrow type of a msgspec field type, and whether it is nullable."""
    if isinstance(info, msgspec.inspect.Metadata):
        return _arrow_type(info.type)
    if isinstance(info, msgspec.inspect.UnionType):
        types = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
        if len(types) == 1:
            return _arrow_type(types[0])[0], True
    if isinstance(info, msgspec.inspect.StrType):
        return pa.string(), False
    if isinstance(info, msgspec.inspect.BoolType):
        return pa.bool_(), False
    if isinstance(info, msgspec.inspect.IntType):
        return pa.int64(), False
    if isinstance(info, msgspec.inspect.FloatType):
        return pa.float64(), False
    if isinstance(info, msgspec.inspect.LiteralType):
        if all(isinstance(v, str) for v in info.values):
            return pa.string(), False
        if all(isinstance(v, int) and not isinstance(v, bool) for v in info.values):
            return pa.int64(), False
    raise TypeError(f"no Arrow column type for {info!r}; add it to feature_pipelines/offline/tables.py")


def _struct_layout(topic: str, table: str, struct: type[msgspec.Struct], time_field: str) -> TableLayout:
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    columns = []
    for f in info.fields:
        dtype, nullable = _arrow_type(f.type)
        columns.append(pa.field(f.name, dtype, nullable=nullable))
    extract = attrgetter(*(f.name for f in info.fields))  # a tuple of the field values, in order
    return TableLayout(topic, table, tuple(columns), extract, attrgetter(time_field))


# --- feature rows: one column per feature of the view -----------------------------------------


def _feature_layout(topic: str, view: AnyView) -> TableLayout:
    features = [(f.name, f.dtype) for f in view.features]
    columns = (
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("window_start", pa.int64(), nullable=False),
        pa.field("window_end", pa.int64(), nullable=False),
        *(pa.field(name, _DTYPES[dtype], nullable=True) for name, dtype in features),
        pa.field("computed_at", pa.int64(), nullable=True),
    )
    known = {name for name, _ in features}

    def extract(row: Any) -> Sequence[Any]:
        if row.view != view.name:
            raise SchemaError(topic, "$.view", "view", f"row of view {row.view!r} on the topic of {view.name!r}")
        unknown = sorted(set(row.values) - known)
        if unknown:
            raise SchemaError(
                topic, f"$.values.{unknown[0]}", "unknown_feature", f"view {view.name} has no feature {unknown}"
            )
        values = [_coerce(topic, name, dtype, row.values.get(name)) for name, dtype in features]
        return [row.entity_id, row.window_start, row.window_end, *values, row.computed_at]

    return TableLayout(topic, f"features/{view.name}", columns, extract, lambda r: int(r.window_end))


def _coerce(topic: str, name: str, dtype: str, value: Any) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if dtype == "float64":
            return float(value)
        if isinstance(value, int) or value.is_integer():
            return int(value)
    raise SchemaError(topic, f"$.values.{name}", "feature_type", f"expected {dtype}, got {value!r}")

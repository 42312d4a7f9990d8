"""Feature definitions, declared once in Python: entities, sources, windows, aggregations, views.

One ``FeatureView`` compiles to the Flink SQL streaming job (``stream_jobs/``) and to offline SQL, and
fixes the order of features everywhere (online vectors, training sets, the model's inputs).

Semantics of a view with windows W1..Wn sharing one slide S: for every entity and every window end E
(a multiple of S since the epoch, UTC) such that the entity has at least one event in [E - max size, E),
one row is emitted at E holding, for each window W, the aggregates over events with ``ts`` in
[E - W.size, E). An empty window gives count/sum/count_distinct 0 and mean/min/max/stddev/last null.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

import msgspec

AggregationFunction = Literal["count", "sum", "mean", "min", "max", "stddev", "last", "count_distinct"]
_ZERO_WHEN_EMPTY = {"count", "sum", "count_distinct"}
_INTEGER_RESULT = {"count", "count_distinct"}
# The version time of a snapshot read of a changelog (the row as it stood before the first streamed change, since
# an unrecorded time): the start of time, 1 ms since the epoch, since 0 means "no row" in the online store.
SNAPSHOT_VERSION_MS = 1


def _fingerprint(description: dict[str, Any]) -> str:
    """Short hash of a view's description without what does not change its rows (where it is served, its TTL)."""
    text = json.dumps({k: v for k, v in description.items() if k not in ("online", "offline", "ttl_s")}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _label(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class Entity:
    """What features describe, and the event field that identifies it (the join key)."""

    name: str
    join_key: str
    description: str = ""


@dataclass(frozen=True)
class Source:
    """A Kafka topic of events with a schema type from ``schemas/`` and its event-time field."""

    name: str
    topic: str
    schema: type[msgspec.Struct]
    event_time_field: str = "ts"
    watermark_delay: timedelta = timedelta(seconds=5)

    def __post_init__(self) -> None:
        if self.event_time_field not in self.field_names:
            raise ValueError(
                f"source {self.name}: event_time_field {self.event_time_field!r} is not a field of "
                f"{self.schema.__name__} ({', '.join(self.field_names)})"
            )
        if self.watermark_delay < timedelta(0):
            raise ValueError(f"source {self.name}: watermark_delay must not be negative")

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in msgspec.structs.fields(self.schema))


@dataclass(frozen=True)
class Window:
    """A hopping window: ``size`` long, a new one every ``slide`` (slide == size: tumbling)."""

    size: timedelta
    slide: timedelta

    def __post_init__(self) -> None:
        if self.slide <= timedelta(0) or self.size <= timedelta(0):
            raise ValueError(f"window size and slide must be positive, got {self.size} / {self.slide}")
        if self.size % self.slide:
            raise ValueError(f"window size {self.size} must be a multiple of its slide {self.slide}")
        if self.slide.total_seconds() % 1:
            raise ValueError("window slide must be whole seconds")

    @property
    def label(self) -> str:
        return _label(self.size)

    @property
    def size_ms(self) -> int:
        return int(self.size.total_seconds() * 1000)

    @property
    def slide_ms(self) -> int:
        return int(self.slide.total_seconds() * 1000)


@dataclass(frozen=True)
class Aggregation:
    """``function`` over ``column`` (``count`` needs none). ``name`` defaults to e.g. ``mean_amount``."""

    function: AggregationFunction
    column: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if self.function != "count" and self.column is None:
            raise ValueError(f"aggregation {self.function} needs a column")

    @property
    def base_name(self) -> str:
        if self.name:
            return self.name
        if self.function == "count":
            return "count"
        if self.function == "count_distinct":
            return f"distinct_{self.column}s" if not str(self.column).endswith("s") else f"distinct_{self.column}"
        return f"{self.function}_{self.column}"

    @property
    def zero_when_empty(self) -> bool:
        return self.function in _ZERO_WHEN_EMPTY

    @property
    def dtype(self) -> Literal["int64", "float64"]:
        return "int64" if self.function in _INTEGER_RESULT else "float64"


@dataclass(frozen=True)
class Feature:
    """One output column of a view: an aggregation over one window."""

    name: str
    aggregation: Aggregation
    window: Window

    @property
    def dtype(self) -> str:
        return self.aggregation.dtype


@dataclass(frozen=True)
class FeatureView:
    name: str
    entity: Entity
    source: Source
    windows: tuple[Window, ...]
    aggregations: tuple[Aggregation, ...]
    ttl: timedelta = timedelta(days=2)
    online: bool = True
    offline: bool = True
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    join: AsOfJoin | None = None  # enrich each event with a table's row as of its time before aggregating

    def __post_init__(self) -> None:
        if not self.windows or not self.aggregations:
            raise ValueError(f"view {self.name}: needs at least one window and one aggregation")
        slides = {w.slide for w in self.windows}
        if len(slides) != 1:
            raise ValueError(
                f"view {self.name}: all windows must share one slide (rows of a view are emitted together "
                f"at each slide), got {sorted(str(s) for s in slides)}; split the view instead"
            )
        fields = set(self.source.field_names)
        if self.entity.join_key not in fields:
            raise ValueError(
                f"view {self.name}: join key {self.entity.join_key!r} is not a field of {self.source.name}"
            )
        if self.join is not None:
            self.join.check(self.name, self.source)
        joined = set() if self.join is None else set(self.join.output_names)
        for agg in self.aggregations:
            if agg.column is not None and agg.column not in fields | joined:
                raise ValueError(
                    f"view {self.name}: column {agg.column!r} is not a field of {self.source.name}"
                    + (f" nor an output of its join ({', '.join(sorted(joined))})" if joined else "")
                )
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError(f"view {self.name}: duplicate feature names {names}")
        if len({w.label for w in self.windows}) != len(self.windows):
            raise ValueError(f"view {self.name}: two windows of the same size")

    @property
    def event_columns(self) -> tuple[str, ...]:
        """The source's fields the view reads: the join key, the join's key and inputs, aggregated fields."""
        joined = () if self.join is None else self.join.output_names
        own = [a.column for a in self.aggregations if a.column and a.column not in joined]
        extra = [] if self.join is None else [self.join.on, *self.join.event_fields]
        return tuple(dict.fromkeys([self.entity.join_key, *extra, *own]))

    @property
    def slide(self) -> timedelta:
        return self.windows[0].slide

    @property
    def slide_ms(self) -> int:
        return self.windows[0].slide_ms

    @property
    def max_window(self) -> Window:
        return max(self.windows, key=lambda w: w.size)

    @property
    def topic(self) -> str:
        return f"features.{self.name}"

    @functools.cached_property  # a frozen view: built once (the scorer and the stores ask per batch)
    def features(self) -> tuple[Feature, ...]:
        """Every feature in its fixed order: windows in declaration order, aggregations within each."""
        return tuple(
            Feature(f"{agg.base_name}_{window.label}", agg, window)
            for window in self.windows
            for agg in self.aggregations
        )

    @functools.cached_property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entity": {"name": self.entity.name, "join_key": self.entity.join_key},
            "source": {
                "topic": self.source.topic,
                "schema": self.source.schema.__name__,
                "event_time_field": self.source.event_time_field,
                "watermark_delay_s": self.source.watermark_delay.total_seconds(),
            },
            "windows": [{"size_s": w.size.total_seconds(), "slide_s": w.slide.total_seconds()} for w in self.windows],
            "features": [{"name": f.name, "dtype": f.dtype} for f in self.features],
            "ttl_s": self.ttl.total_seconds(),
            "online": self.online,
            "offline": self.offline,
        } | ({} if self.join is None else {"join": self.join.describe()})

    @property
    def fingerprint(self) -> str:
        """Short hash of everything that changes the rows: names, windows, aggregations, source."""
        return _fingerprint(self.describe())


@dataclass(frozen=True)
class ChangelogSource:
    """A Debezium change topic (``cdc.<schema>.<table>``, the JSON envelope of ``schemas/debezium.py``) of rows of
    ``schema``, whose primary key is the column ``key``."""

    name: str
    topic: str
    schema: type[msgspec.Struct]
    key: str = "id"

    def __post_init__(self) -> None:
        if self.key not in self.field_names:
            raise ValueError(
                f"changelog source {self.name}: key {self.key!r} is not a column of {self.schema.__name__}"
            )

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in msgspec.structs.fields(self.schema))


@dataclass(frozen=True)
class Derived:
    """A value computed per event after an as-of join: a Flink SQL ``expression`` over the event's fields and the
    joined columns (in backquotes), a DOUBLE. ``reads`` names what it reads (checked against both)."""

    name: str
    expression: str
    reads: tuple[str, ...]


@dataclass(frozen=True)
class AsOfJoin:
    """Join each event with the row of ``table`` whose key equals the event's ``on`` field, as that row was at the
    event's time (an event-time temporal join on the change stream): ``columns`` of that row, and ``derived``
    values, become columns the view can aggregate. An event whose entity had no row yet gets NULLs (a left join),
    which aggregations skip."""

    table: ChangelogSource
    on: str
    columns: tuple[str, ...]
    derived: tuple[Derived, ...] = ()

    @property
    def output_names(self) -> tuple[str, ...]:
        return (*self.columns, *(d.name for d in self.derived))

    @property
    def event_fields(self) -> tuple[str, ...]:
        """Fields of the event the derived values read."""
        return tuple(dict.fromkeys(r for d in self.derived for r in d.reads if r not in self.columns))

    def check(self, view: str, source: Source) -> None:
        table_columns = set(self.table.field_names)
        if self.on not in source.field_names:
            raise ValueError(f"view {view}: join field {self.on!r} is not a field of {source.name}")
        unknown = set(self.columns) - table_columns
        if unknown:
            raise ValueError(f"view {view}: {sorted(unknown)} are not columns of {self.table.schema.__name__}")
        for derived in self.derived:
            bad = set(derived.reads) - set(self.columns) - set(source.field_names)
            if bad:
                raise ValueError(
                    f"view {view}: {derived.name} reads {sorted(bad)}, neither joined columns nor fields of "
                    f"{source.name}"
                )
        names = self.output_names
        if len(set(names)) != len(names) or set(names) & set(source.field_names):
            raise ValueError(f"view {view}: join outputs {list(names)} repeat a name or shadow an event field")

    def describe(self) -> dict[str, Any]:
        return {
            "table": self.table.topic,
            "on": self.on,
            "columns": list(self.columns),
            "derived": [{"name": d.name, "expression": d.expression} for d in self.derived],
        }


@dataclass(frozen=True)
class Attribute:
    """One feature of a changelog view: a Flink SQL ``expression`` over the row's columns (in backquotes), of
    ``dtype``. ``columns`` names the columns it reads (their schema rules are checked before it is computed)."""

    name: str
    expression: str
    dtype: Literal["int64", "float64"]
    columns: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class ChangelogView:
    """The latest attributes of each row of a table, from its change stream: an insert or update writes the
    entity's row (computed from the row after the change), a delete removes the entity (a tombstone on
    ``features.<view>``, so the online store drops it).

    A row is the state at one instant: ``window_end`` is the change's commit time in the database
    (``source.ts_ms``), ``window_start`` one millisecond before it; a snapshot read's is ``SNAPSHOT_VERSION_MS``
    (it held since before anything was recorded). So freshness is commit -> store, stores keep the row of the
    latest commit, and a point-in-time join reads the attributes that held at an event's time. A row holds until
    the next change replaces it: by default (``ttl`` None) it never expires, online or in a training set.
    """

    name: str
    entity: Entity
    source: ChangelogSource
    attributes: tuple[Attribute, ...]
    ttl: timedelta | None = None
    online: bool = True
    offline: bool = True
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.attributes:
            raise ValueError(f"view {self.name}: needs at least one attribute")
        columns = set(self.source.field_names)
        for attribute in self.attributes:
            unknown = set(attribute.columns) - columns
            if unknown:
                raise ValueError(
                    f"view {self.name}: attribute {attribute.name} reads {sorted(unknown)}, not columns of "
                    f"{self.source.schema.__name__} ({', '.join(self.source.field_names)})"
                )
        names = [a.name for a in self.attributes]
        if len(set(names)) != len(names):
            raise ValueError(f"view {self.name}: duplicate feature names {names}")

    @property
    def topic(self) -> str:
        return f"features.{self.name}"

    @property
    def features(self) -> tuple[Attribute, ...]:
        return self.attributes

    @functools.cached_property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes)

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the attributes read, the key first."""
        return tuple(dict.fromkeys([self.source.key, *(c for a in self.attributes for c in a.columns)]))

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entity": {"name": self.entity.name, "join_key": self.entity.join_key},
            "source": {"topic": self.source.topic, "schema": self.source.schema.__name__, "key": self.source.key},
            "changelog": True,
            "features": [{"name": a.name, "dtype": a.dtype, "expression": a.expression} for a in self.attributes],
            "ttl_s": None if self.ttl is None else self.ttl.total_seconds(),
            "online": self.online,
            "offline": self.offline,
        }

    @property
    def fingerprint(self) -> str:
        return _fingerprint(self.describe())


AnyView = FeatureView | ChangelogView

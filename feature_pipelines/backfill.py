"""Backfill a feature view from the raw events in the offline store, without replaying Kafka.

``rtml features backfill --view V --start T0 --end T1`` reads the source's archived events (the Delta
table the offline materializer fills from ``events.*``), runs the view's offline SQL
(``offline_sql.backfill_sql``, the same rows the Flink job emits) in DuckDB, and appends the rows with
``T0 < window_end <= T1`` to the view's offline table ``features/<view>``.

Exactly once: the append carries the app transaction ``backfill:<view>:<fingerprint>:<T0>:<T1>`` at the
version of the events table it read, so running the same backfill again over unchanged events writes
nothing. Rows carry ``_topic = "backfill"`` (``_partition`` -1, ``_offset`` the row number), so they can
be told from streamed rows; where both exist for one (entity, window end) they are equal (the parity
test), and readers take the newest by ``_ingested_at`` (``training_set.latest_rows``).

Events the stream dropped as late (behind the watermark) are in the archive, so a backfill counts them
where the stream did not: parity holds for on-time events.

A view with an as-of join (``FeatureView.join``) reads the joined table's versions from the offline table of the
changelog view over that table whose attributes are the joined columns (``customer_profile`` for
``customer_limit_usage``): each archived row is the table's row from its commit (``window_end``) on, a snapshot
read's from the start of time, so an event joins the newest version at or before its time, as the live temporal
join does. Deletes are not archived (a tombstone has no row): an event after its entity's deletion still joins the
last version, where the live join gives nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from feature_pipelines.definitions import SNAPSHOT_VERSION_MS, AnyView, ChangelogView, FeatureView
from feature_pipelines.offline.delta_store import DeltaOfflineStore
from feature_pipelines.offline.tables import source_layout, utc_date, view_layout
from feature_pipelines.offline_sql import backfill_sql

BACKFILL_TOPIC = "backfill"
MAX_MS = 253_402_214_400_000  # 9999-12-31, the last date a partition name can hold


@dataclass(frozen=True)
class BackfillResult:
    view: str
    table: str
    start_ms: int
    end_ms: int
    rows: int
    written: bool  # False: this backfill was already committed for this events version
    events_table: str
    events_version: int
    seconds: float


class NoEventsError(LookupError):
    """The source's events were never archived: nothing to backfill from."""


def versions_view(view: FeatureView) -> ChangelogView:
    """The changelog view whose offline rows are the versions of the table ``view`` joins: over the same change
    topic, with an attribute ``<column>`` = the column itself for each joined column."""
    from feature_pipelines.repository import FEATURE_VIEWS

    join = view.join
    assert join is not None, f"{view.name} joins nothing"
    for candidate in FEATURE_VIEWS.values():
        if isinstance(candidate, ChangelogView) and candidate.source.topic == join.table.topic:
            identity = {a.name for a in candidate.attributes if a.expression == f"`{a.name}`"}
            if set(join.columns) <= identity:
                return candidate
    raise LookupError(
        f"{view.name} joins {list(join.columns)} of {join.table.topic}: no changelog view keeps those columns as they "
        "are, so the offline store has no versions of them to join with"
    )


def joined_events_sql(view: FeatureView, events: str, versions: str) -> str:
    """``events`` with the joined columns of the version that held at each event's time (``versions``: the
    changelog view's offline rows) and the derived values, for ``backfill_sql``."""
    from feature_pipelines.training_set import latest_rows

    join = view.join
    assert join is not None
    ts, on = _q(view.source.event_time_field), _q(join.on)
    cols = ", ".join(_q(c) for c in join.columns)
    joined = ", ".join(f"v.{_q(c)}" for c in join.columns)
    derived = "".join(f", CAST({_duck(d.expression)} AS DOUBLE) AS {_q(d.name)}" for d in join.derived)
    return f"""SELECT *{derived} FROM (
  SELECT e.*, {joined}
  FROM {events} e
  ASOF LEFT JOIN (SELECT entity_id, window_end, {cols} FROM ({latest_rows(versions)})) v
    ON CAST(e.{on} AS VARCHAR) = v.entity_id AND CAST(e.{ts} AS BIGINT) >= v.window_end
)"""


def compute_rows(
    view: FeatureView, events: pa.Table | object, *, start_ms: int, end_ms: int, versions: pa.Table | None = None
) -> pa.Table:
    """The view's rows for ``start_ms < window_end <= end_ms`` from ``events`` (an Arrow table or
    dataset with the source's fields), as DuckDB computes them; a joined view's from ``versions`` too (the
    offline rows of ``versions_view(view)``)."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("events", events)
        relation = "events"
        if view.join is not None:
            if versions is None:
                raise ValueError(f"{view.name} joins {view.join.table.topic}: its versions are needed")
            con.register("versions", versions)
            relation = f"({joined_events_sql(view, 'events', 'versions')})"
        return con.sql(backfill_sql(view, relation, start_ms=start_ms, end_ms=end_ms)).to_arrow_table()
    finally:
        con.close()


def snapshot_rows(view: ChangelogView, table: pa.Table) -> pa.Table:
    """A changelog view's rows for a table's rows as a snapshot reads them (``table``: the row type's columns):
    the attributes computed from each row, ``window_end`` ``SNAPSHOT_VERSION_MS`` (held since the start of time),
    for ``to_offline_rows``: what the live job writes for Debezium's snapshot."""
    values = ", ".join(
        f"CAST({_duck(a.expression)} AS {'BIGINT' if a.dtype == 'int64' else 'DOUBLE'}) AS {_q(a.name)}"
        for a in view.attributes
    )
    con = duckdb.connect()
    try:
        con.register("snapshot", table)
        return con.sql(
            f"SELECT CAST({_q(view.source.key)} AS VARCHAR) AS entity_id, {SNAPSHOT_VERSION_MS - 1}::BIGINT AS "
            f"window_start, {SNAPSHOT_VERSION_MS}::BIGINT AS window_end, {values} FROM snapshot "
            f"WHERE {_q(view.source.key)} IS NOT NULL ORDER BY entity_id"
        ).to_arrow_table()
    finally:
        con.close()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _duck(expression: str) -> str:
    """A Flink SQL expression of a definition (identifiers in backquotes) as DuckDB reads it."""
    return expression.replace("`", '"')


def to_offline_rows(view: AnyView, rows: pa.Table, *, now_ms: int) -> pa.Table:
    """``rows`` (from ``compute_rows``) in the layout of the view's offline table."""
    layout = view_layout(view)
    n = rows.num_rows
    columns: dict[str, pa.Array | pa.ChunkedArray] = {name: rows[name] for name in rows.column_names}
    columns["computed_at"] = pa.array([now_ms] * n, pa.int64())
    columns["_topic"] = pa.array([BACKFILL_TOPIC] * n, pa.string())
    columns["_partition"] = pa.array([-1] * n, pa.int32())
    columns["_offset"] = pa.array(range(n), pa.int64())
    columns["_ingested_at"] = pa.array([now_ms] * n, pa.int64())
    ends = rows["window_end"].to_pylist()
    columns["date"] = pa.array([utc_date(e) for e in ends], pa.string())
    arrays = [pc.cast(columns[f.name], f.type) for f in layout.schema]
    return pa.Table.from_arrays(arrays, schema=layout.schema)


def backfill_view(
    store: DeltaOfflineStore, view: FeatureView, *, start_ms: int, end_ms: int, now_ms: int | None = None
) -> BackfillResult:
    """Compute and append the view's rows for ``start_ms < window_end <= end_ms``; see the module doc."""
    began = time.monotonic()
    versions, app_suffix = None, ""
    if view.join is not None:
        source = versions_view(view)
        versions_table = view_layout(source).table
        versions_version = store.version(versions_table)
        if versions_version is None:
            raise NoEventsError(
                f"{view.name} joins {view.join.table.topic} as of each event's time, and the offline store under "
                f"{store.root} holds no versions of it ({versions_table}): run the CDC pipeline and the offline "
                "materializer, or rtml offline seed (it writes the bank's snapshot)"
            )
        columns = ["entity_id", "window_end", *view.join.columns, "_ingested_at"]
        versions = store.read(versions_table, columns, version=versions_version)
        app_suffix = f":{versions_table}@{versions_version}"
    events_table = source_layout(view.source).table
    version = store.version(events_table)
    if version is None:
        raise NoEventsError(
            f"no archived events for {view.source.topic} under {store.root} (table {events_table}); "
            "run the offline materializer (rtml jobs start offline) first"
        )
    first_day = utc_date(max(start_ms - view.max_window.size_ms, 0))
    last_day = utc_date(min(end_ms, MAX_MS))
    dataset = store.dataset(events_table, version=version)
    con = duckdb.connect()
    try:
        con.register("archived", dataset)
        # prune partitions by date before the window SQL reads the events
        events = con.sql(
            f"SELECT * FROM archived WHERE date >= '{first_day}' AND date <= '{last_day}'"
        ).to_arrow_table()
    finally:
        con.close()
    rows = compute_rows(view, events, start_ms=start_ms, end_ms=end_ms, versions=versions)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    table = to_offline_rows(view, rows, now_ms=now)
    target = view_layout(view).table
    app_id = f"backfill:{view.name}:{view.fingerprint}:{start_ms}:{end_ms}{app_suffix}"
    result = store.append(target, table, app_id=app_id, version=version)
    return BackfillResult(
        view=view.name,
        table=target,
        start_ms=start_ms,
        end_ms=end_ms,
        rows=table.num_rows,
        written=result.written,
        events_table=events_table,
        events_version=version,
        seconds=time.monotonic() - began,
    )

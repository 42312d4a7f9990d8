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
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from feature_pipelines.definitions import FeatureView
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


def compute_rows(view: FeatureView, events: pa.Table | object, *, start_ms: int, end_ms: int) -> pa.Table:
    """The view's rows for ``start_ms < window_end <= end_ms`` from ``events`` (an Arrow table or
    dataset with the source's fields), as DuckDB computes them."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("events", events)
        return con.sql(backfill_sql(view, "events", start_ms=start_ms, end_ms=end_ms)).to_arrow_table()
    finally:
        con.close()


def to_offline_rows(view: FeatureView, rows: pa.Table, *, now_ms: int) -> pa.Table:
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
    if view.join is not None:
        raise ValueError(
            f"{view.name} joins {view.join.table.topic} as of each event's time: only the live feature job computes "
            "it (a backfill would need the table's history, which the offline store does not keep yet)"
        )
    began = time.monotonic()
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
    rows = compute_rows(view, events, start_ms=start_ms, end_ms=end_ms)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    table = to_offline_rows(view, rows, now_ms=now)
    target = view_layout(view).table
    app_id = f"backfill:{view.name}:{view.fingerprint}:{start_ms}:{end_ms}"
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

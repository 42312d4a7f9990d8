"""Compile a feature view to offline SQL (DuckDB): the rows the Flink job emits, from recorded events.

The semantics are those of ``definitions.py``: for every entity and every window end E (a multiple of
the view's slide) with at least one event in [E - max size, E), one row at E holding each window's
aggregates over the events in [E - size, E). The streaming job gets there with HOP windows; here the
same rows come from window functions:

1. ``ends``: the window ends an event makes, enumerated per non-empty (entity, slice) rather than per
   event: an event in slice k = ts // slide makes ends (k + 1) .. (k + max_size / slide) times slide.
2. ``probes``: one row per (entity, end) at time E - 1 ms, stacked with the events, so a window frame
   ``RANGE BETWEEN size - 1 PRECEDING AND CURRENT ROW`` over ``ts`` of a probe is exactly [E - size, E).
3. Each aggregation is a window aggregate over that frame; probe rows carry NULL values, which every
   aggregate ignores; only probe rows are kept.

Rows are emitted for ``start < window_end <= end``, computed from events in [start - max size, end),
so a bounded range gives exactly the rows the stream gives for those ends. ``last`` takes the value of
the event with the greatest ``ts`` (ties: the greatest ``_partition``/``_offset`` when the relation has
them; the stream takes arrival order).
"""

from __future__ import annotations

from feature_pipelines.definitions import Aggregation, FeatureView

_WINDOW_AGG = {
    "count": "COUNT(`_is_event`)",
    "sum": "SUM({c})",
    "mean": "AVG({c})",
    "min": "MIN({c})",
    "max": "MAX({c})",
    "stddev": "STDDEV_POP({c})",
    "last": "ARG_MAX({c}, `_order`)",
    "count_distinct": "COUNT(DISTINCT {c})",
}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _agg(agg: Aggregation) -> str:
    return _WINDOW_AGG[agg.function].format(c=_q(agg.column or "")).replace("`", '"')


def backfill_sql(view: FeatureView, events: str, *, start_ms: int, end_ms: int) -> str:
    """DuckDB SELECT of the view's rows with ``start_ms < window_end <= end_ms`` from relation ``events``
    (the source's fields, at least the join key, the event-time field and the aggregated columns).

    Columns: ``entity_id``, ``window_start``, ``window_end`` (epoch ms), the features in the view's
    order (BIGINT or DOUBLE, zero for an empty count/sum/count_distinct, NULL for other empty ones).
    """
    if end_ms <= start_ms:
        raise ValueError(f"backfill of {view.name}: end {end_ms} must be after start {start_ms}")
    slide = view.slide_ms
    longest = view.max_window.size_ms
    key, ts = _q(view.entity.join_key), _q(view.source.event_time_field)
    columns = sorted({a.column for a in view.aggregations if a.column})
    value_cols = "".join(f", {_q(c)}" for c in columns)
    null_cols = "".join(f", NULL AS {_q(c)}" for c in columns)
    frames = []
    selects = []
    for i, window in enumerate(view.windows):
        frames.append(
            f"w{i} AS (PARTITION BY entity_id ORDER BY _t RANGE BETWEEN {window.size_ms - 1} PRECEDING AND CURRENT ROW)"
        )
    for feature in view.features:
        i = view.windows.index(feature.window)
        expr = f"{_agg(feature.aggregation)} OVER w{i}"
        sql_type = "BIGINT" if feature.dtype == "int64" else "DOUBLE"
        if feature.aggregation.zero_when_empty:
            expr = f"COALESCE({expr}, 0)"
        selects.append(f"CAST({expr} AS {sql_type}) AS {_q(feature.name)}")
    order = "_t"
    select_list = ",\n    ".join(selects)
    return f"""WITH ev AS (
  SELECT CAST({key} AS VARCHAR) AS entity_id, CAST({ts} AS BIGINT) AS _t{value_cols}
  FROM {events}
  WHERE {key} IS NOT NULL AND {ts} >= {start_ms - longest} AND {ts} < {end_ms}
),
ends AS (
  SELECT DISTINCT entity_id, (k + n) * {slide} AS window_end
  FROM (SELECT DISTINCT entity_id, _t // {slide} AS k FROM ev),
       range(1, {longest // slide + 1}) AS r(n)
  WHERE (k + n) * {slide} > {start_ms} AND (k + n) * {slide} <= {end_ms}
),
stacked AS (
  SELECT entity_id, _t, TRUE AS _is_event, {order} AS _order{value_cols}, NULL::BIGINT AS window_end FROM ev
  UNION ALL
  SELECT entity_id, window_end - 1 AS _t, NULL AS _is_event, NULL AS _order{null_cols}, window_end FROM ends
),
windowed AS (
  SELECT entity_id, window_end,
    {select_list}
  FROM stacked
  WINDOW {", ".join(frames)}
)
SELECT entity_id, window_end - {longest} AS window_start, window_end,
  {", ".join(_q(f.name) for f in view.features)}
FROM windowed
WHERE window_end IS NOT NULL
ORDER BY entity_id, window_end"""

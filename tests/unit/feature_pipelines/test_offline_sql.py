"""The offline compiler against the naive oracle: same rows, same values, for any events."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feature_pipelines.definitions import Aggregation, Entity, FeatureView, Source, Window
from feature_pipelines.offline_sql import backfill_sql
from feature_pipelines.repository import customer_txn_stats, merchant_txn_stats
from schemas.transaction import Transaction
from tests.support import flink_views
from tests.support.feature_oracle import expected_rows

S = timedelta(seconds=1)
T0 = 1_800_000_000_000  # a multiple of every slide below

every_function = FeatureView(
    name="every_function",
    entity=Entity("customer", join_key="customer_id"),
    source=Source("t", topic="events.transactions", schema=Transaction),
    windows=(Window(10 * S, 5 * S), Window(30 * S, 5 * S)),
    # the Flink tests' aggregations, and ``last`` (which the stream orders by arrival, the oracle by ts)
    aggregations=(*flink_views.customer_stats.aggregations, Aggregation("last", "amount")),
)


@dataclass(frozen=True)
class Ev:
    ts: int
    customer_id: str
    merchant_id: str
    amount: float


def backfill(view: FeatureView, events: list[Ev], start: int, end: int) -> dict[tuple[str, int], dict[str, Any]]:
    table = pa.table(
        {
            "ts": [e.ts for e in events],
            "customer_id": [e.customer_id for e in events],
            "merchant_id": [e.merchant_id for e in events],
            "amount": [e.amount for e in events],
        },
        schema=pa.schema(
            [("ts", pa.int64()), ("customer_id", pa.string()), ("merchant_id", pa.string()), ("amount", pa.float64())]
        ),
    )
    con = duckdb.connect()
    con.register("events", table)
    result = con.sql(backfill_sql(view, "events", start_ms=start, end_ms=end)).to_arrow_table().to_pylist()
    rows = {}
    for r in result:
        assert r["window_start"] == r["window_end"] - view.max_window.size_ms
        rows[(r["entity_id"], r["window_end"])] = {f: r[f] for f in view.feature_names}
    return rows


def assert_same(got: dict[Any, dict[str, Any]], want: dict[Any, dict[str, Any]]) -> None:
    assert got.keys() == want.keys()
    for key, values in want.items():
        for name, value in values.items():
            actual = got[key][name]
            if value is None or isinstance(value, int) and not isinstance(actual, float):
                assert actual == value, (key, name)
            else:
                assert actual is not None and math.isclose(actual, value, rel_tol=1e-9, abs_tol=1e-9), (key, name)


events_strategy = st.lists(
    st.builds(
        Ev,
        ts=st.integers(T0, T0 + 120_000),
        customer_id=st.sampled_from(["c1", "c2", "c3"]),
        merchant_id=st.sampled_from(["m1", "m2", "m3", "m4"]),
        amount=st.floats(0.01, 5_000, allow_nan=False).map(lambda a: round(a, 2)),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(events=events_strategy)
def test_every_function_matches_the_oracle(events: list[Ev]) -> None:
    # last: the oracle takes the greatest ts; ties between events are broken differently, so make ts unique
    unique = list({e.ts: e for e in events}.values())
    assert_same(backfill(every_function, unique, 0, 2**62), expected_rows(every_function, unique))


def test_window_edges_are_half_open() -> None:
    # events exactly at a window start and one millisecond before a window end
    events = [Ev(T0, "c1", "m1", 1.0), Ev(T0 + 9_999, "c1", "m2", 2.0), Ev(T0 + 10_000, "c1", "m1", 4.0)]
    rows = backfill(every_function, events, 0, 2**62)
    assert rows[("c1", T0 + 10_000)]["count_10s"] == 2
    assert rows[("c1", T0 + 10_000)]["sum_amount_10s"] == 3.0
    assert rows[("c1", T0 + 15_000)]["count_10s"] == 2  # [T0 + 5 s, T0 + 15 s): the last two
    assert rows[("c1", T0 + 15_000)]["last_amount_10s"] == 4.0
    assert rows[("c1", T0 + 20_000)]["count_10s"] == 1
    assert rows[("c1", T0 + 25_000)]["count_10s"] == 0  # 10 s window empty, 30 s one not: zero, a row
    assert rows[("c1", T0 + 25_000)]["mean_amount_10s"] is None
    assert rows[("c1", T0 + 25_000)]["count_30s"] == 3
    assert ("c1", T0 + 45_000) not in rows  # T0 + 10 s + 30 s = T0 + 40 s is the last end with data
    assert_same(rows, expected_rows(every_function, events))


def test_a_range_gives_exactly_the_rows_of_its_ends() -> None:
    events = [Ev(T0 + i * 7_000, f"c{i % 2}", f"m{i % 3}", 10.0 + i) for i in range(20)]
    start, end = T0 + 30_000, T0 + 90_000
    want = {k: v for k, v in expected_rows(every_function, events).items() if start < k[1] <= end}
    assert_same(backfill(every_function, events, start, end), want)


@pytest.mark.parametrize("view", [customer_txn_stats, merchant_txn_stats], ids=lambda v: v.name)
def test_the_demo_views_match_the_oracle(view: FeatureView) -> None:
    day = 86_400_000
    base = (T0 // day) * day
    events = [Ev(base + i * 1_234_567 % (2 * 3_600_000), f"c{i % 3}", f"m{i % 4}", 5.0 + i % 17) for i in range(25)]
    start, end = base + 3_600_000, base + 4 * 3_600_000  # a 3 h range of a 24 h window view
    want = {k: v for k, v in expected_rows(view, events).items() if start < k[1] <= end}
    got = backfill(view, events, start, end)
    assert len(got) > 100
    assert_same(got, want)


def test_an_empty_range_is_refused() -> None:
    with pytest.raises(ValueError, match="must be after start"):
        backfill_sql(every_function, "events", start_ms=10, end_ms=10)


@dataclass(frozen=True)
class JoinedEv:
    ts: int
    customer_id: str
    merchant_id: str
    amount: float
    credit_limit: float | None
    amount_to_limit: float | None


@settings(max_examples=40, deadline=None)
@given(
    events=events_strategy,
    versions=st.lists(
        st.tuples(
            st.sampled_from(["c1", "c2", "c3"]),
            st.one_of(st.just(1), st.integers(T0, T0 + 120_000)),  # a snapshot read, or a change
            st.sampled_from([0.0, 500.0, 1_000.0, 2_500.0]),
        ),
        max_size=12,
    ),
)
def test_a_joined_view_backfills_against_the_versions_that_held(
    events: list[Ev], versions: list[tuple[str, int, float]]
) -> None:
    """The limit-usage view from archived events and the profile's archived versions equals the oracle on events
    joined by hand with the newest version at or before their time (none: NULL, skipped by the aggregates)."""
    from feature_pipelines.backfill import compute_rows
    from tests.support import cdc_views

    view = cdc_views.limit_usage
    newest = {(c, at): (limit, i) for i, (c, at, limit) in enumerate(versions)}  # a replayed version: the newest
    joined = []
    for e in events:
        held = [(at, limit) for (c, at), (limit, _) in newest.items() if c == e.customer_id and at <= e.ts]
        limit = max(held)[1] if held else None
        usage = None if limit is None or limit == 0 else e.amount / limit
        joined.append(JoinedEv(e.ts, e.customer_id, e.merchant_id, e.amount, limit, usage))
    events_table = pa.table(
        {
            "ts": [e.ts for e in events],
            "customer_id": [e.customer_id for e in events],
            "amount": [e.amount for e in events],
        }
    )
    versions_table = pa.table(
        {
            "entity_id": [c for c, _, _ in versions],
            "window_end": [at for _, at, _ in versions],
            "credit_limit": [limit for _, _, limit in versions],
            "_ingested_at": list(range(len(versions))),
        }
    )
    got = compute_rows(view, events_table, start_ms=0, end_ms=2**62, versions=versions_table).to_pylist()
    want = expected_rows(view, joined)
    assert_same({(r["entity_id"], r["window_end"]): {f: r[f] for f in view.feature_names} for r in got}, want)

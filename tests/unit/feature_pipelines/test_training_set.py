"""Point-in-time training sets against a naive oracle: no feature row from after the event, TTL,
defaults, newest label, newest of duplicated rows; request features agree with their Python twin."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from feature_pipelines.definitions import Aggregation, Entity, FeatureView, Source, Window
from feature_pipelines.feature_service import FeatureService, RequestFeature, column_name
from feature_pipelines.repository import fraud_detection
from feature_pipelines.training_set import compute_training_set
from rtml.datagen.config import GeneratorConfig
from rtml.datagen.transactions import TransactionGenerator
from schemas.transaction import Transaction

SLIDE = 10_000
TTL = 60_000
view = FeatureView(
    name="v",
    entity=Entity("customer", join_key="customer_id"),
    source=Source("t", topic="events.transactions", schema=Transaction),
    windows=(Window(timedelta(seconds=30), timedelta(seconds=10)),),
    aggregations=(Aggregation("count"), Aggregation("mean", "amount")),
    ttl=timedelta(milliseconds=TTL),
)
service = FeatureService(
    "test", views=(view,), request=(RequestFeature("double_amount", "2 * amount", lambda tx: 2 * tx.amount),)
)
COUNT, MEAN = column_name(view, "count_30s"), column_name(view, "mean_amount_30s")


def tables(events: list[dict], labels: list[dict], rows: list[dict]) -> tuple[pa.Table, pa.Table, pa.Table]:
    ev = pa.Table.from_pylist(
        events,
        schema=pa.schema(
            [("event_id", pa.string()), ("ts", pa.int64()), ("customer_id", pa.string()), ("amount", pa.float64())]
        ),
    )
    lab = pa.Table.from_pylist(
        labels, schema=pa.schema([("event_id", pa.string()), ("label", pa.int64()), ("ts", pa.int64())])
    )
    feat = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("entity_id", pa.string()),
                ("window_end", pa.int64()),
                ("count_30s", pa.int64()),
                ("mean_amount_30s", pa.float64()),
                ("_ingested_at", pa.int64()),
            ]
        ),
    )
    return ev, lab, feat


def oracle(events: list[dict], labels: list[dict], rows: list[dict]) -> dict[str, dict[str, Any]]:
    newest_label: dict[str, tuple[int, int]] = {}
    for lab in labels:
        if lab["event_id"] not in newest_label or lab["ts"] > newest_label[lab["event_id"]][0]:
            newest_label[lab["event_id"]] = (lab["ts"], lab["label"])
    newest_row: dict[tuple[str, int], dict] = {}
    for r in rows:
        key = (r["entity_id"], r["window_end"])
        if key not in newest_row or r["_ingested_at"] > newest_row[key]["_ingested_at"]:
            newest_row[key] = r
    out = {}
    for e in events:
        if e["event_id"] not in newest_label:
            continue
        usable = [r for (ent, end), r in newest_row.items() if ent == e["customer_id"] and end <= e["ts"]]
        best = max(usable, key=lambda r: r["window_end"], default=None)
        if best is not None and e["ts"] - best["window_end"] > TTL:
            best = None
        out[e["event_id"]] = {
            "label": newest_label[e["event_id"]][1],
            "double_amount": 2 * e["amount"],
            COUNT: float(best["count_30s"]) if best else 0.0,
            MEAN: best["mean_amount_30s"] if best else None,
            "_end": best["window_end"] if best else None,
        }
    return out


def _event_ids(n: int) -> list[str]:
    return [f"e{i}" for i in range(n)]


ends = st.integers(0, 30).map(lambda k: k * SLIDE)


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[dict], list[dict], list[dict]]:
    n = draw(st.integers(1, 25))
    events = [
        {
            "event_id": eid,
            "ts": draw(st.integers(0, 320_000)),
            "customer_id": draw(st.sampled_from(["a", "b", "c"])),
            "amount": draw(st.floats(0.5, 100, allow_nan=False)),
        }
        for eid in _event_ids(n)
    ]
    labels = [
        {
            "event_id": draw(st.sampled_from(_event_ids(n))),
            "label": draw(st.integers(0, 1)),
            "ts": draw(st.integers(0, 10**6)),
        }
        for _ in range(draw(st.integers(0, n + 5)))
    ]
    rows = [
        {
            "entity_id": draw(st.sampled_from(["a", "b", "c", "zz"])),
            "window_end": draw(ends),
            "count_30s": draw(st.integers(0, 9)),
            "mean_amount_30s": draw(st.one_of(st.none(), st.floats(0, 100, allow_nan=False))),
            "_ingested_at": i,  # unique, so "the newest duplicate" is well defined
        }
        for i in range(draw(st.integers(0, 40)))
    ]
    return events, labels, rows


@settings(max_examples=80, deadline=None)
@given(scenario())
def test_point_in_time_join_equals_the_oracle(case: tuple[list[dict], list[dict], list[dict]]) -> None:
    events, labels, rows = case
    # unique (event_id, ts) for labels, so "the newest label" is well defined
    seen: set[tuple[str, int]] = set()
    labels = [
        lab for lab in labels if (lab["event_id"], lab["ts"]) not in seen and not seen.add((lab["event_id"], lab["ts"]))
    ]
    got = compute_training_set(service, *tables(events, labels, rows)[:2], {"v": tables(events, labels, rows)[2]})
    want = oracle(events, labels, rows)
    assert sorted(got.column("event_id").to_pylist()) == sorted(want)
    assert got.column_names == ["event_id", "ts", "label", *service.feature_names]
    for r in got.to_pylist():
        w = want[r["event_id"]]
        assert w["_end"] is None or w["_end"] <= r["ts"]  # never a window that ends after the event
        assert r["label"] == w["label"]
        assert math.isclose(r["double_amount"], w["double_amount"])
        assert r[COUNT] == w[COUNT]
        assert r[MEAN] == w[MEAN]


def test_rows_are_in_time_order_and_unlabelled_events_are_left_out() -> None:
    events = [
        {"event_id": "late", "ts": 50_000, "customer_id": "a", "amount": 1.0},
        {"event_id": "early", "ts": 20_000, "customer_id": "a", "amount": 2.0},
        {"event_id": "nolabel", "ts": 30_000, "customer_id": "a", "amount": 3.0},
    ]
    labels = [{"event_id": "late", "label": 1, "ts": 60_000}, {"event_id": "early", "label": 0, "ts": 90_000}]
    rows = [{"entity_id": "a", "window_end": 20_000, "count_30s": 4, "mean_amount_30s": 2.5, "_ingested_at": 1}]
    ev, lab, feat = tables(events, labels, rows)
    got = compute_training_set(service, ev, lab, {"v": feat}).to_pylist()
    assert [r["event_id"] for r in got] == ["early", "late"]
    assert got[0][COUNT] == 4.0  # window_end == ts: the window [ts - 30 s, ts) excludes the event itself
    assert got[1][COUNT] == 4.0


def test_request_features_agree_with_their_python_twin() -> None:
    import duckdb

    records = [
        i.record
        for i in TransactionGenerator(GeneratorConfig(start_ts=1_790_000_000_000, seed=3, rate=0.05)).events(300)
        if i.topic_kind == "transaction"
    ]
    table = pa.Table.from_pylist([{f: getattr(r, f) for f in r.__struct_fields__} for r in records])
    con = duckdb.connect()
    con.register("t", table)
    for feature in fraud_detection.request:
        got = [row[0] for row in con.sql(f"SELECT CAST({feature.sql} AS DOUBLE) FROM t").fetchall()]
        want = [feature.python(r) for r in records]
        assert all(math.isclose(g, w, rel_tol=1e-12, abs_tol=1e-12) for g, w in zip(got, want, strict=True)), (
            feature.name
        )
    assert len(set(fraud_detection.feature_names)) == len(fraud_detection.feature_names)


def _changelog_service() -> tuple[FeatureService, str]:
    from feature_pipelines.definitions import Attribute, ChangelogSource, ChangelogView
    from schemas.debezium import Customer

    profile = ChangelogView(
        "profile",
        Entity("customer", join_key="customer_id"),
        ChangelogSource("bank_customers", topic="cdc.bank.customers", schema=Customer, key="id"),
        (Attribute("credit_limit", "`credit_limit`", "float64", ("credit_limit",)),),
    )
    return FeatureService("cdc", views=(view, profile)), column_name(profile, "credit_limit")


def test_a_changelog_view_gives_the_row_that_held_at_the_event_however_old() -> None:
    svc, limit = _changelog_service()
    events = [
        {"event_id": "before", "ts": 5_000, "customer_id": "a", "amount": 1.0},
        {"event_id": "after", "ts": 500_000_000, "customer_id": "a", "amount": 1.0},  # days after the snapshot
        {"event_id": "other", "ts": 600_000_000, "customer_id": "b", "amount": 1.0},
    ]
    labels = [{"event_id": e["event_id"], "label": 0, "ts": e["ts"] + 1} for e in events]
    ev, lab, feat = tables(events, labels, [])
    versions = pa.Table.from_pylist(
        [  # a snapshot read (1 ms: held since before anything was recorded), then a change at 10 s
            {"entity_id": "a", "window_end": 1, "credit_limit": 1000.0, "_ingested_at": 1},
            {"entity_id": "a", "window_end": 10_000, "credit_limit": 2500.0, "_ingested_at": 2},
        ]
    )
    got = {r["event_id"]: r for r in compute_training_set(svc, ev, lab, {"v": feat, "profile": versions}).to_pylist()}
    assert got["before"][limit] == 1000.0  # the snapshot's row, not the later change
    assert got["after"][limit] == 2500.0  # no TTL: a row holds until the next change
    assert got["other"][limit] is None  # no row: unknown, not 0


def test_a_live_only_view_without_a_table_is_missing_for_every_event() -> None:
    svc, limit = _changelog_service()
    events = [{"event_id": "e", "ts": 5_000, "customer_id": "a", "amount": 1.0}]
    ev, lab, feat = tables(events, [{"event_id": "e", "label": 1, "ts": 6_000}], [])
    (row,) = compute_training_set(svc, ev, lab, {"v": feat, "profile": None}).to_pylist()
    assert row[limit] is None and row["label"] == 1

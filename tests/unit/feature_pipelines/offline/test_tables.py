"""Table layouts: explicit Arrow schemas, UTC date partitions, provenance, rejections."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from feature_pipelines.offline.tables import PROVENANCE, layout_for, to_arrow, utc_date
from feature_pipelines.repository import customer_txn_stats, merchant_txn_stats
from schemas.feature_row import FeatureRow
from schemas.label import Label
from schemas.transaction import Transaction
from tests.support.records import received as Rec

MIDNIGHT = 1_700_006_400_000  # 2023-11-15T00:00:00Z


def txn(i: int, ts: int = MIDNIGHT) -> Transaction:
    return Transaction(
        event_id=f"tx-{i}",
        ts=ts,
        customer_id="c1",
        merchant_id="m1",
        merchant_category="grocery",
        amount=12.5,
        currency="EUR",
        country="DE",
        device_id="d1",
        channel="pos",
    )


def feature_row(values: dict[str, Any], *, end: int = MIDNIGHT, view: str = "merchant_txn_stats") -> FeatureRow:
    return FeatureRow(view=view, entity_id="m1", window_start=end - 3_600_000, window_end=end, values=values)


def test_transaction_table_schema() -> None:
    layout = layout_for("events.transactions")
    assert layout.table == "events/transactions"
    assert layout.schema == pa.schema(
        [
            pa.field("event_id", pa.string(), nullable=False),
            pa.field("ts", pa.int64(), nullable=False),
            pa.field("customer_id", pa.string(), nullable=False),
            pa.field("merchant_id", pa.string(), nullable=False),
            pa.field("merchant_category", pa.string(), nullable=False),
            pa.field("amount", pa.float64(), nullable=False),
            pa.field("currency", pa.string(), nullable=False),
            pa.field("country", pa.string(), nullable=False),
            pa.field("device_id", pa.string(), nullable=False),
            pa.field("channel", pa.string(), nullable=False),
            *PROVENANCE,
            pa.field("date", pa.string(), nullable=False),
        ]
    )


def test_label_table_schema_keeps_optional_fields_nullable() -> None:
    layout = layout_for("labels.transactions")
    assert layout.table == "labels/transactions"
    schema = layout.schema
    assert schema.names[:6] == ["event_id", "label", "ts", "customer_id", "event_ts", "source"]
    assert schema.field("label").type == pa.int64()
    assert not schema.field("event_id").nullable
    assert schema.field("customer_id").nullable and schema.field("event_ts").nullable
    assert schema.field("source").type == pa.string()


def test_feature_table_has_one_column_per_feature_in_view_order() -> None:
    layout = layout_for("features.customer_txn_stats")
    assert layout.table == "features/customer_txn_stats"
    names = layout.schema.names
    features = list(customer_txn_stats.feature_names)
    assert names == [
        "entity_id",
        "window_start",
        "window_end",
        *features,
        "computed_at",
        "_topic",
        "_partition",
        "_offset",
        "_ingested_at",
        "date",
    ]
    for f in customer_txn_stats.features:
        field = layout.schema.field(f.name)
        assert field.nullable
        assert field.type == (pa.int64() if f.dtype == "int64" else pa.float64())


def test_unknown_topic_is_refused() -> None:
    for topic in ("predictions.fraud", "events.clicks", "features.nope"):
        with pytest.raises((ValueError, KeyError)):
            layout_for(topic)


def test_events_convert_with_provenance_and_date_of_ts() -> None:
    layout = layout_for("events.transactions")
    records = [Rec("events.transactions", 2, 10, txn(1, MIDNIGHT - 1)), Rec("events.transactions", 3, 7, txn(2))]
    conversion = to_arrow(layout, records, ingested_at=42)
    table = conversion.table
    assert table.schema == layout.schema
    rows = table.to_pylist()
    assert [r["event_id"] for r in rows] == ["tx-1", "tx-2"]
    assert [r["date"] for r in rows] == ["2023-11-14", "2023-11-15"]
    assert [(r["_topic"], r["_partition"], r["_offset"], r["_ingested_at"]) for r in rows] == [
        ("events.transactions", 2, 10, 42),
        ("events.transactions", 3, 7, 42),
    ]
    assert rows[0]["amount"] == 12.5 and rows[0]["channel"] == "pos"


def test_labels_convert_nulls() -> None:
    layout = layout_for("labels.transactions")
    label = Label(event_id="tx-1", label=1, ts=MIDNIGHT + 5)
    rows = to_arrow(layout, [Rec("labels.transactions", 0, 0, label)], ingested_at=0).table.to_pylist()
    assert rows == [
        {
            "event_id": "tx-1",
            "label": 1,
            "ts": MIDNIGHT + 5,
            "customer_id": None,
            "event_ts": None,
            "source": "chargeback",
            "_topic": "labels.transactions",
            "_partition": 0,
            "_offset": 0,
            "_ingested_at": 0,
            "date": "2023-11-15",
        }
    ]


def test_feature_rows_coerce_dtypes_and_partition_by_window_end() -> None:
    layout = layout_for("features.merchant_txn_stats")
    assert merchant_txn_stats.feature_names == ("count_1h", "mean_amount_1h", "count_24h", "mean_amount_24h")
    row = feature_row({"count_1h": 3.0, "mean_amount_1h": 7, "count_24h": 5})  # mean_amount_24h missing
    table = to_arrow(layout, [Rec("features.merchant_txn_stats", 1, 3, row)], ingested_at=1).table
    (out,) = table.to_pylist()
    assert out["count_1h"] == 3 and isinstance(out["count_1h"], int)
    assert out["mean_amount_1h"] == 7.0 and isinstance(out["mean_amount_1h"], float)
    assert out["mean_amount_24h"] is None
    assert out["window_end"] == MIDNIGHT and out["date"] == "2023-11-15"
    # a window ending at midnight belongs to the day it ends in, one ending 1 ms earlier to the day before
    earlier = feature_row({}, end=MIDNIGHT - 1)
    (prev,) = to_arrow(layout, [Rec("features.merchant_txn_stats", 1, 4, earlier)], ingested_at=1).table.to_pylist()
    assert prev["date"] == "2023-11-14"


@pytest.mark.parametrize(
    ("values", "view", "rule"),
    [
        ({"count_1h": "many"}, "merchant_txn_stats", "feature_type"),
        ({"count_1h": 2.5}, "merchant_txn_stats", "feature_type"),
        ({"mean_amount_1h": True}, "merchant_txn_stats", "feature_type"),
        ({"no_such_feature": 1}, "merchant_txn_stats", "unknown_feature"),
        ({}, "customer_txn_stats", "view"),
    ],
)
def test_rows_that_do_not_fit_are_rejected_not_dropped(values: dict[str, Any], view: str, rule: str) -> None:
    layout = layout_for("features.merchant_txn_stats")
    good = Rec("features.merchant_txn_stats", 0, 1, feature_row({"count_1h": 1}))
    bad = Rec("features.merchant_txn_stats", 0, 2, feature_row(values, view=view))
    conversion = to_arrow(layout, [good, bad], ingested_at=0)
    assert conversion.table.num_rows == 1
    ((record, error),) = conversion.rejected
    assert record is bad
    assert error.rule == rule and error.record == "features.merchant_txn_stats"


def test_tombstones_are_counted_not_written() -> None:
    layout = layout_for("features.merchant_txn_stats")
    conversion = to_arrow(layout, [Rec("features.merchant_txn_stats", 0, 9, None, b"m1")], ingested_at=0)
    assert conversion.table.num_rows == 0
    assert conversion.table.schema == layout.schema
    assert conversion.tombstones == 1 and not conversion.rejected


@given(st.integers(min_value=0, max_value=32_503_680_000_000))
def test_utc_date_matches_datetime(ms: int) -> None:
    assert utc_date(ms) == datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")

"""A consumed batch split per view; tombstones delete and drop the entity's earlier rows."""

from __future__ import annotations

from feature_pipelines.online.changes import split_by_view
from feature_pipelines.repository import customer_txn_stats, merchant_txn_stats
from rtml.kafka.consumer import Received
from schemas.feature_row import FeatureRow

TOPICS = {v.topic: v for v in (customer_txn_stats, merchant_txn_stats)}
offsets = iter(range(1_000_000))


def upsert(view: str, entity: str, end: int) -> Received:
    record = FeatureRow(view, entity, end - 60_000, end, {})
    return Received(f"features.{view}", 0, next(offsets), entity.encode(), record, 0)


def tombstone(view: str, entity: str) -> Received:
    return Received(f"features.{view}", 0, next(offsets), entity.encode(), None, 0)


def ends(rows: list) -> list[tuple[str, int]]:
    return [(r.record.entity_id, r.record.window_end) for r in rows]


def test_rows_are_grouped_by_view() -> None:
    c, m = "customer_txn_stats", "merchant_txn_stats"
    changes = split_by_view([upsert(c, "a", 1), upsert(m, "x", 2), upsert(c, "b", 3), upsert(c, "a", 4)], TOPICS)
    assert [ch.view.name for ch in changes] == [c, m]
    assert ends(changes[0].rows) == [("a", 1), ("b", 3), ("a", 4)]  # in batch order (an entity's rows in theirs)
    assert ends(changes[1].rows) == [("x", 2)] and changes[1].deletes == []


def test_a_tombstone_drops_earlier_rows_and_keeps_later_ones() -> None:
    c = "customer_txn_stats"
    batch = [upsert(c, "a", 1), upsert(c, "b", 1), tombstone(c, "a"), tombstone(c, "b"), upsert(c, "b", 2)]
    (changes,) = split_by_view(batch, TOPICS)
    assert changes.deletes == ["a", "b"]
    assert ends(changes.rows) == [("b", 2)]


def test_a_batch_with_a_tombstone_keeps_each_entitys_rows_in_their_order() -> None:
    c = "customer_txn_stats"
    batch = [upsert(c, "a", 1), upsert(c, "b", 2), upsert(c, "a", 3), tombstone(c, "z"), upsert(c, "b", 4)]
    (changes,) = split_by_view(batch, TOPICS)
    assert changes.deletes == ["z"]
    rows = ends(changes.rows)
    assert sorted(rows) == [("a", 1), ("a", 3), ("b", 2), ("b", 4)]
    assert [e for e in rows if e[0] == "a"] == [("a", 1), ("a", 3)] and [e for e in rows if e[0] == "b"] == [
        ("b", 2),
        ("b", 4),
    ]


def test_an_empty_batch_has_no_changes() -> None:
    assert split_by_view([], TOPICS) == []

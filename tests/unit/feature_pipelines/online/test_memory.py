"""InMemoryOnlineStore: newer window_end wins, equal or older is skipped, TTLs expire, tombstones delete."""

from __future__ import annotations

from feature_pipelines.online.layout import layout_of
from feature_pipelines.online.memory import InMemoryOnlineStore
from feature_pipelines.repository import customer_txn_stats
from schemas.feature_row import FeatureRow

VIEW = customer_txn_stats
TTL_S = VIEW.ttl.total_seconds()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def row(entity: str, window_end: int, count: int = 1) -> FeatureRow:
    return FeatureRow(VIEW.name, entity, window_end - 60_000, window_end, {"count_5m": count})


def counts(store: InMemoryOnlineStore, *entities: str) -> list[float | None]:
    got = store.get(VIEW, list(entities))
    return [v if ok else None for v, ok in zip(got.column("count_5m").tolist(), got.found.tolist(), strict=True)]


def test_newer_window_end_wins_older_and_equal_are_skipped() -> None:
    store = InMemoryOnlineStore()
    assert store.write(VIEW, [row("a", 120_000, 1)]) == 1
    assert store.write(VIEW, [row("a", 60_000, 2)]) == 0  # older
    assert store.write(VIEW, [row("a", 120_000, 3)]) == 0  # same window: a replay
    assert counts(store, "a") == [1]
    assert store.write(VIEW, [row("a", 180_000, 4)]) == 1
    assert counts(store, "a") == [4]
    assert store.get(VIEW, ["a"]).window_end.tolist() == [180_000]


def test_within_a_batch_only_each_entitys_newest_row_counts() -> None:
    store = InMemoryOnlineStore()
    applied = store.apply(VIEW, [row("a", 180_000, 3), row("b", 60_000), row("a", 240_000, 4), row("a", 120_000, 2)])
    assert sorted((r.entity_id, r.window_end) for r in applied) == [("a", 240_000), ("b", 60_000)]
    assert counts(store, "a", "b", "c") == [4, 1, None]
    assert store.apply(VIEW, []) == []


def test_rows_expire_after_the_views_ttl_and_then_any_row_is_newer() -> None:
    clock = Clock()
    store = InMemoryOnlineStore(clock=clock)
    store.write(VIEW, [row("a", 120_000)])
    key = layout_of(VIEW).key("a")
    assert store.ttl_ms(key) == TTL_S * 1000
    clock.now += TTL_S - 1
    assert counts(store, "a") == [1]
    clock.now += 1
    assert counts(store, "a") == [None] and store.ttl_ms(key) is None
    assert store.write(VIEW, [row("a", 60_000, 9)]) == 1  # nothing held any more
    assert counts(store, "a") == [9]


def test_delete_forgets_an_entity_so_an_older_row_can_come_back() -> None:
    store = InMemoryOnlineStore()
    store.write(VIEW, [row("a", 120_000), row("b", 120_000)])
    assert store.delete(VIEW, ["a", "zz"]) == 1
    assert store.delete(VIEW, []) == 0
    assert counts(store, "a", "b") == [None, 1]
    assert store.write(VIEW, [row("a", 60_000, 5)]) == 1


def test_views_are_looked_up_by_name_too() -> None:
    store = InMemoryOnlineStore()
    store.write("customer_txn_stats", [row("a", 120_000, 6)])
    assert counts(store, "a") == [6]

"""OnlineMaterializer.process on the in-memory store: writes, tombstones, dead letters, metrics (no Kafka)."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import REGISTRY

from feature_pipelines.online.materializer import OnlineMaterializer
from feature_pipelines.online.memory import InMemoryOnlineStore
from feature_pipelines.repository import customer_txn_stats, merchant_txn_stats
from rtml.kafka.consumer import Received
from rtml.settings import Settings
from schemas.feature_row import FeatureRow

NOW_S = 1_700_000_000.0
VIEW = customer_txn_stats


def received(entity: str, end_ms: int | None, count: object = 1, view: str = VIEW.name) -> Received:
    record = None if end_ms is None else FeatureRow(view, entity, end_ms - 60_000, end_ms, {"count_5m": count})
    return Received(f"features.{view}", 0, 0, entity.encode(), record, 0)


def sample(name: str, component: str, view: str = VIEW.name) -> float:
    return REGISTRY.get_sample_value(name, {"component": component, "view": view}) or 0.0


def freshness_count() -> float:
    return REGISTRY.get_sample_value("rtml_feature_freshness_seconds_count", {"view": VIEW.name}) or 0.0


@pytest.fixture
def materializer() -> OnlineMaterializer:
    return OnlineMaterializer(
        Settings(),
        [VIEW, merchant_txn_stats],
        InMemoryOnlineStore(),
        component=f"unit-{uuid.uuid4().hex[:8]}",
        clock=lambda: NOW_S,
    )


def count_5m(m: OnlineMaterializer, *entities: str) -> list[float | None]:
    got = m.store.get(VIEW, list(entities))
    return [v if ok else None for v, ok in zip(got.column("count_5m").tolist(), got.found.tolist(), strict=True)]


def test_rows_are_written_newest_wins_and_counted(materializer: OnlineMaterializer) -> None:
    end = int(NOW_S * 1000) - 7_000
    before = freshness_count()
    materializer.process([received("a", end, 1), received("b", end, 2), received("a", end - 60_000, 9)])
    assert count_5m(materializer, "a", "b") == [1, 2]
    materializer.process([received("a", end - 120_000, 5), received("a", end, 6)])  # older, then a replay
    assert count_5m(materializer, "a") == [1]
    c = materializer.component
    assert sample("rtml_materializer_rows_total", c) == 2
    assert sample("rtml_materializer_stale_rows_total", c) == 3
    assert materializer.totals.applied == 2 and materializer.totals.stale == 3 and materializer.totals.batches == 2
    assert freshness_count() - before == 2
    le_10 = {"view": VIEW.name, "le": "10.0"}
    le_5 = {"view": VIEW.name, "le": "5.0"}
    assert (REGISTRY.get_sample_value("rtml_feature_freshness_seconds_bucket", le_10) or 0) - (
        REGISTRY.get_sample_value("rtml_feature_freshness_seconds_bucket", le_5) or 0
    ) >= 2  # 7 s old


def test_tombstones_delete(materializer: OnlineMaterializer) -> None:
    materializer.process([received("a", 120_000), received("b", 120_000)])
    materializer.process([received("a", None), received("b", None), received("b", 60_000, 3)])
    assert count_5m(materializer, "a", "b") == [None, 3]
    assert sample("rtml_materializer_deletes_total", materializer.component) == 2


def test_a_row_that_does_not_fit_is_dead_lettered_and_the_rest_written(materializer: OnlineMaterializer) -> None:
    letters: list[tuple[Received, Exception]] = []
    materializer.dead_letter = lambda item, error: letters.append((item, error))  # type: ignore[arg-type, misc]
    materializer.process([received("a", 120_000, 1), received("bad", 120_000, "DE"), received("c", 120_000, 3)])
    assert count_5m(materializer, "a", "bad", "c") == [1, None, 3]
    assert [(item.key, "count_5m" in str(error)) for item, error in letters] == [(b"bad", True)]
    assert materializer.totals.dead_lettered == 1


def test_views_by_name_and_the_default_is_every_online_view() -> None:
    store = InMemoryOnlineStore()
    assert [v.name for v in OnlineMaterializer(Settings(), ["merchant_txn_stats"], store).views] == [
        "merchant_txn_stats"
    ]
    everything = OnlineMaterializer(Settings(), store=store)
    assert everything.topics == [
        "features.customer_txn_stats",
        "features.merchant_txn_stats",
        "features.customer_profile",
        "features.customer_limit_usage",
    ]
    with pytest.raises(ValueError, match="no online feature views"):
        OnlineMaterializer(Settings(), [], store)


def test_a_snapshot_read_is_stored_but_not_counted_as_fresh_or_stale() -> None:
    from feature_pipelines.repository import customer_profile

    m = OnlineMaterializer(Settings(), [customer_profile], InMemoryOnlineStore(), component="unit-snapshot")
    labels = {"view": customer_profile.name}
    before = REGISTRY.get_sample_value("rtml_feature_freshness_seconds_count", labels) or 0.0
    snapshot = FeatureRow(customer_profile.name, "c1", 0, 1, {"credit_limit": 500.0})  # held since before anything
    m.process([Received(customer_profile.topic, 0, 0, b"c1", snapshot, 0)])
    assert m.store.get(customer_profile, ["c1"]).found.tolist() == [True]  # window_end 1 ms is a row
    assert (REGISTRY.get_sample_value("rtml_feature_freshness_seconds_count", labels) or 0.0) == before

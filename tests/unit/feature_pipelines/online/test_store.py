"""OnlineStore's API on the in-memory backend: get() arrays and the Feast-style get_online_features."""

from __future__ import annotations

import numpy as np
import pytest

from feature_pipelines.online.memory import InMemoryOnlineStore
from feature_pipelines.repository import customer_txn_stats, merchant_txn_stats
from schemas.feature_row import FeatureRow

END = 1_700_000_100_000


@pytest.fixture
def store() -> InMemoryOnlineStore:
    store = InMemoryOnlineStore()
    store.write(
        customer_txn_stats,
        [
            FeatureRow(customer_txn_stats.name, "c1", END - 60_000, END, {"count_5m": 3, "mean_amount_1h": 12.5}),
            FeatureRow(customer_txn_stats.name, "c2", END - 60_000, END, {"count_5m": 0, "mean_amount_1h": None}),
        ],
    )
    store.write(
        merchant_txn_stats,
        [FeatureRow(merchant_txn_stats.name, "m1", END - 300_000, END, {"count_1h": 40, "mean_amount_1h": 20.0})],
    )
    return store


def test_get_returns_arrays_in_feature_order_for_the_entities_asked(store: InMemoryOnlineStore) -> None:
    got = store.get("customer_txn_stats", ["c2", "missing", "c1", "c1"])
    assert got.view == "customer_txn_stats" and got.feature_names == customer_txn_stats.feature_names
    assert got.entity_ids == ("c2", "missing", "c1", "c1") and len(got) == 4
    assert got.values.shape == (4, 15) and got.values.dtype == np.float64
    assert got.found.tolist() == [True, False, True, True]
    assert got.window_end.tolist() == [END, 0, END, END]
    assert got.column("count_5m")[[0, 2]].tolist() == [0.0, 3.0]
    assert np.isnan(got.values[1]).all()
    empty = store.get(customer_txn_stats, [])
    assert empty.values.shape == (0, 15) and empty.found.shape == (0,)


def test_get_online_features_gives_entity_columns_then_features_with_none_for_missing(
    store: InMemoryOnlineStore,
) -> None:
    result = store.get_online_features(
        features=["customer_txn_stats:count_5m", "merchant_txn_stats:count_1h", "customer_txn_stats:mean_amount_1h"],
        entity_rows=[
            {"customer_id": "c1", "merchant_id": "m1"},
            {"customer_id": "c2", "merchant_id": "m9"},
            {"customer_id": "c404", "merchant_id": "m1"},
        ],
    )
    assert list(result) == ["customer_id", "merchant_id", "count_5m", "mean_amount_1h", "count_1h"]
    assert result["customer_id"] == ["c1", "c2", "c404"]
    assert result["count_5m"] == [3, 0, None] and all(type(v) is int for v in result["count_5m"][:2])
    assert result["mean_amount_1h"] == [12.5, None, None]  # null value, then missing entity
    assert result["count_1h"] == [40, None, 40]


def test_full_feature_names_tell_views_apart(store: InMemoryOnlineStore) -> None:
    refs = ["customer_txn_stats:mean_amount_1h", "merchant_txn_stats:mean_amount_1h"]
    rows = [{"customer_id": "c1", "merchant_id": "m1"}]
    with pytest.raises(ValueError, match="full_feature_names=True"):
        store.get_online_features(refs, rows)
    result = store.get_online_features(refs, rows, full_feature_names=True)
    assert result["customer_txn_stats__mean_amount_1h"] == [12.5]
    assert result["merchant_txn_stats__mean_amount_1h"] == [20.0]


def test_entity_ids_are_matched_as_strings(store: InMemoryOnlineStore) -> None:
    store.write(customer_txn_stats, [FeatureRow(customer_txn_stats.name, "7", END - 60_000, END, {"count_5m": 2})])
    assert store.get_online_features(["customer_txn_stats:count_5m"], [{"customer_id": 7}])["count_5m"] == [2]


def test_bad_requests_say_what_is_wrong(store: InMemoryOnlineStore) -> None:
    rows = [{"customer_id": "c1"}]
    with pytest.raises(ValueError, match="must read 'view:feature'"):
        store.get_online_features(["count_5m"], rows)
    with pytest.raises(KeyError, match="no feature view 'nope'"):
        store.get_online_features(["nope:count_5m"], rows)
    with pytest.raises(ValueError, match="has no feature 'count_2m'; it has: count_5m"):
        store.get_online_features(["customer_txn_stats:count_2m"], rows)
    with pytest.raises(ValueError, match="needs 'merchant_id'"):
        store.get_online_features(["merchant_txn_stats:count_1h"], rows)
    with pytest.raises(KeyError, match="no feature view 'nope'"):
        store.get("nope", ["c1"])


def test_no_entity_rows_give_empty_columns(store: InMemoryOnlineStore) -> None:
    assert store.get_online_features(["customer_txn_stats:count_5m"], []) == {"customer_id": [], "count_5m": []}


def test_get_many_reads_several_views_in_one_backend_call(
    store: InMemoryOnlineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    read = store.get_values
    monkeypatch.setattr(store, "get_values", lambda keys: calls.append(len(keys)) or read(keys))
    customers, merchants, empty = store.get_many(
        [(customer_txn_stats, ["c1", "nobody"]), ("merchant_txn_stats", ["m1"]), (merchant_txn_stats, [])]
    )
    assert calls == [3]
    for got, view, ids in (
        (customers, "customer_txn_stats", ["c1", "nobody"]),
        (merchants, "merchant_txn_stats", ["m1"]),
    ):
        single = store.get(view, ids)
        assert got.view == view and got.entity_ids == tuple(ids) and got.feature_names == single.feature_names
        np.testing.assert_array_equal(got.values, single.values)
        assert got.found.tolist() == single.found.tolist() and got.window_end.tolist() == single.window_end.tolist()
    assert empty.values.shape == (0, 4) and store.get_many([]) == []

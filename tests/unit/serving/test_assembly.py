from __future__ import annotations

import math

import numpy as np
import pytest

from feature_pipelines.online.memory import InMemoryOnlineStore
from feature_pipelines.repository import (
    customer_limit_usage,
    customer_profile,
    customer_txn_stats,
    get_service,
    merchant_txn_stats,
)
from schemas.feature_row import FeatureRow
from serving.assembly import FeatureAssembler, FeatureMatrix
from tests.unit.serving.conftest import T0, transaction

SERVICE = get_service("fraud")
DAY_MS = 86_400_000


@pytest.fixture
def store() -> InMemoryOnlineStore:
    store = InMemoryOnlineStore()
    end = T0 - 60_000
    store.write(
        customer_txn_stats,
        [
            FeatureRow(customer_txn_stats.name, "c1", end - 60_000, end, {"count_5m": 3, "mean_amount_1h": 12.5}),
            FeatureRow(customer_txn_stats.name, "old", T0 - 3 * DAY_MS - 60_000, T0 - 3 * DAY_MS, {"count_5m": 9}),
        ],
    )
    store.write(
        merchant_txn_stats,
        [FeatureRow(merchant_txn_stats.name, "m1", end - 300_000, end, {"count_1h": 40, "mean_amount_1h": 20.0})],
    )
    # a changelog view's row holds until the next change, however old (here: a snapshot read, at 1 ms)
    store.write(customer_profile, [FeatureRow(customer_profile.name, "c1", 0, 1, {"credit_limit": 3000.0})])
    store.write(
        customer_limit_usage,
        [FeatureRow(customer_limit_usage.name, "c1", end - 60_000, end, {"max_amount_to_limit_1h": 0.25})],
    )
    return store


def assemble(store: InMemoryOnlineStore, records: list) -> tuple[FeatureAssembler, FeatureMatrix]:
    assembler = FeatureAssembler(SERVICE)
    return assembler, assembler.assemble(
        records, store.get_many((lookups := assembler.lookups(records)).requests), lookups
    )


def features(matrix: FeatureMatrix, i: int) -> dict[str, float | None]:
    """Row ``i`` by feature name, None for NaN (as a prediction carries it)."""
    return {n: None if math.isnan(v) else v for n, v in zip(matrix.feature_names, matrix.values[i], strict=True)}


def test_columns_follow_the_service_order_request_features_first(store: InMemoryOnlineStore) -> None:
    records = [transaction(1, "c1", "m1", channel="atm", amount=100.0)]
    assembler, matrix = assemble(store, records)
    assert matrix.feature_names == SERVICE.feature_names
    row = features(matrix, 0)
    assert list(row) == list(SERVICE.feature_names)
    assert row["amount"] == 100.0 and row["log_amount"] == pytest.approx(math.log1p(100.0))
    assert (row["channel_online"], row["channel_atm"]) == (0.0, 1.0)
    assert row["hour_of_day"] == float((records[0].ts // 3_600_000) % 24)
    assert row["customer_txn_stats__count_5m"] == 3.0 and row["customer_txn_stats__mean_amount_1h"] == 12.5
    assert row["merchant_txn_stats__count_1h"] == 40.0 and row["merchant_txn_stats__mean_amount_1h"] == 20.0
    # a count the row holds as null is 0, as in the training set; a null mean stays missing (NaN -> None)
    assert row["customer_txn_stats__count_1h"] == 0.0 and row["customer_txn_stats__max_amount_5m"] is None
    assert row["customer_profile__credit_limit"] == 3000.0 and row["customer_profile__risk_flag_count"] is None
    assert row["customer_limit_usage__max_amount_to_limit_1h"] == 0.25
    assert matrix.missing_views(0) == [] and matrix.failed == {}
    x = matrix.model_input()
    assert x.dtype == np.float32 and x.shape == (1, len(SERVICE.feature_names)) and x.flags.c_contiguous


def test_missing_and_expired_entities_get_the_defaults_and_are_flagged(store: InMemoryOnlineStore) -> None:
    records = [transaction(1, "nobody", "m1"), transaction(2, "old", "m-unknown"), transaction(3, "c1", "m1")]
    _, matrix = assemble(store, records)
    defaults = SERVICE.defaults()
    for i in (0, 1):
        row = features(matrix, i)
        for name, value in defaults.items():
            if name.startswith("customer_txn_stats__"):
                assert row[name] == (None if math.isnan(value) else value), name
    cdc = ["customer_profile", "customer_limit_usage"]
    assert matrix.missing_views(0) == ["customer_txn_stats", *cdc]
    assert matrix.missing_views(1) == ["customer_txn_stats", "merchant_txn_stats", *cdc]  # older than the TTL
    assert matrix.missing_views(2) == []
    assert matrix.missing.tolist() == [[True, False, True, True], [True, True, True, True], [False] * 4]
    # an unknown customer's profile attributes are unknown (NaN), not 0
    assert features(matrix, 0)["customer_profile__risk_flag_count"] is None


def test_one_lookup_per_view_with_each_entity_once(store: InMemoryOnlineStore) -> None:
    records = [transaction(i, f"c{i % 2}", "m1") for i in range(5)]
    lookups = FeatureAssembler(SERVICE).lookups(records)
    assert [(view.name, ids) for view, ids in lookups.requests] == [
        ("customer_txn_stats", ["c0", "c1"]),
        ("merchant_txn_stats", ["m1"]),
        ("customer_profile", ["c0", "c1"]),
        ("customer_limit_usage", ["c0", "c1"]),
    ]
    assert [at.tolist() for at in lookups.at] == [[0, 1, 0, 1, 0], [0] * 5, [0, 1, 0, 1, 0], [0, 1, 0, 1, 0]]
    _, matrix = assemble(store, records)
    counts = matrix.values[:, SERVICE.feature_names.index("customer_txn_stats__count_5m")]
    assert counts.tolist() == [0.0, 3.0, 0.0, 3.0, 0.0]


def test_a_request_feature_that_fails_marks_only_its_event(store: InMemoryOnlineStore) -> None:
    odd = type("Odd", (), {"ts": T0, "customer_id": "c1", "merchant_id": "m1", "amount": "x"})()
    _, matrix = assemble(store, [transaction(1), odd, transaction(2)])
    assert list(matrix.failed) == [1] and isinstance(matrix.failed[1], ValueError)
    assert not np.isnan(matrix.values[[0, 2], 0]).any()


def test_defaults_matrix_is_what_an_unknown_entity_looks_like() -> None:
    assembler = FeatureAssembler(SERVICE)
    warm = assembler.defaults_matrix(3)
    assert warm.shape == (3, len(SERVICE.feature_names)) and warm.dtype == np.float32
    for j, name in enumerate(SERVICE.feature_names):
        expected = SERVICE.defaults().get(name, 0.0)
        assert (np.isnan(warm[:, j]).all() and math.isnan(expected)) or (warm[:, j] == expected).all(), name


def test_missing_views_match_the_row_by_row_reading(store: InMemoryOnlineStore) -> None:
    records = [transaction(i, customer=("c1", "nobody", "old")[i % 3], merchant=("m1", "m0")[i % 2]) for i in range(12)]
    _, matrix = assemble(store, records)
    for i in range(len(records)):
        assert matrix.missing_views(i) == [
            v for v, gone in zip(matrix.view_names, matrix.missing[i], strict=True) if gone
        ]

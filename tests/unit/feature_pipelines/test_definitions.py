"""Feature definitions: fixed feature order, and the rules a view must follow."""

from __future__ import annotations

from datetime import timedelta

import pytest

from feature_pipelines.definitions import Aggregation, Entity, FeatureView, Source, Window
from feature_pipelines.repository import FEATURE_VIEWS, customer_txn_stats, get_view
from schemas.transaction import Transaction

M = timedelta(minutes=1)
SRC = Source("t", topic="events.t", schema=Transaction)
CUSTOMER = Entity("customer", join_key="customer_id")


def test_demo_views_have_their_features_in_a_fixed_order() -> None:
    names = customer_txn_stats.feature_names
    assert names[:5] == ("count_5m", "sum_amount_5m", "mean_amount_5m", "max_amount_5m", "distinct_merchants_5m")
    assert names[-1] == "distinct_merchants_24h" and len(names) == 15
    assert get_view("merchant_txn_stats").feature_names == (
        "count_1h",
        "mean_amount_1h",
        "count_24h",
        "mean_amount_24h",
    )
    assert set(FEATURE_VIEWS) == {
        "customer_txn_stats",
        "merchant_txn_stats",
        "customer_profile",
        "customer_limit_usage",
    }
    assert get_view("customer_limit_usage").feature_names == ("max_amount_to_limit_1h", "mean_amount_to_limit_1h")
    assert get_view("customer_profile").feature_names == ("credit_limit", "risk_flag_count", "account_opened_at")


def test_fingerprint_changes_with_the_definition() -> None:
    a = FeatureView("v", CUSTOMER, SRC, (Window(5 * M, M),), (Aggregation("count"),))
    b = FeatureView("v", CUSTOMER, SRC, (Window(10 * M, M),), (Aggregation("count"),))
    assert a.fingerprint != b.fingerprint
    assert a.fingerprint == FeatureView("v", CUSTOMER, SRC, (Window(5 * M, M),), (Aggregation("count"),)).fingerprint


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"windows": (Window(5 * M, M), Window(60 * M, 5 * M))}, "share one slide"),
        ({"aggregations": (Aggregation("sum", "nope"),)}, "not a field"),
        ({"entity": Entity("x", join_key="missing")}, "join key"),
        ({"windows": ()}, "at least one window"),
    ],
)
def test_invalid_views_are_refused(kwargs: dict, message: str) -> None:
    base = {
        "name": "v",
        "entity": CUSTOMER,
        "source": SRC,
        "windows": (Window(5 * M, M),),
        "aggregations": (Aggregation("count"),),
    }
    with pytest.raises(ValueError, match=message):
        FeatureView(**{**base, **kwargs})


def test_window_size_must_be_a_multiple_of_the_slide() -> None:
    with pytest.raises(ValueError, match="multiple"):
        Window(5 * M, 2 * M)
    with pytest.raises(ValueError, match="needs a column"):
        Aggregation("sum")

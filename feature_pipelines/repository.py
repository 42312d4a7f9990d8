"""The project's feature views: the demo fraud domain, and lookup by name."""

from __future__ import annotations

import math
from datetime import timedelta

from feature_pipelines.definitions import (
    Aggregation,
    AnyView,
    AsOfJoin,
    Attribute,
    ChangelogSource,
    ChangelogView,
    Derived,
    Entity,
    FeatureView,
    Source,
    Window,
)
from feature_pipelines.feature_service import FeatureService, RequestFeature
from schemas.debezium import Customer
from schemas.transaction import Transaction

customer = Entity("customer", join_key="customer_id", description="A card holder")
merchant = Entity("merchant", join_key="merchant_id", description="A shop accepting cards")

transactions = Source(
    "transactions",
    topic="events.transactions",
    schema=Transaction,
    event_time_field="ts",
    watermark_delay=timedelta(seconds=5),
)

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)

customer_txn_stats = FeatureView(
    name="customer_txn_stats",
    entity=customer,
    source=transactions,
    windows=(Window(5 * MINUTE, MINUTE), Window(HOUR, MINUTE), Window(DAY, MINUTE)),
    aggregations=(
        Aggregation("count"),
        Aggregation("sum", "amount"),
        Aggregation("mean", "amount"),
        Aggregation("max", "amount"),
        Aggregation("count_distinct", "merchant_id", name="distinct_merchants"),
    ),
    ttl=timedelta(days=2),
    description="A customer's spending over the last 5 minutes, hour and day",
)

merchant_txn_stats = FeatureView(
    name="merchant_txn_stats",
    entity=merchant,
    source=transactions,
    windows=(Window(HOUR, 5 * MINUTE), Window(DAY, 5 * MINUTE)),
    aggregations=(Aggregation("count"), Aggregation("mean", "amount")),
    ttl=timedelta(days=2),
    description="A merchant's volume and typical ticket over the last hour and day",
)

bank_customers = ChangelogSource("bank_customers", topic="cdc.bank.customers", schema=Customer, key="id")

customer_profile = ChangelogView(
    name="customer_profile",
    entity=customer,
    source=bank_customers,
    attributes=(
        Attribute("credit_limit", "`credit_limit`", "float64", ("credit_limit",), "the card's limit (EUR)"),
        Attribute(
            "risk_flag_count",
            "COALESCE(CARDINALITY(`risk_flags`), 0)",
            "int64",
            ("risk_flags",),
            "how many risk flags the bank set",
        ),
        Attribute(
            "account_opened_at", "`account_opened_at`", "int64", ("account_opened_at",), "epoch ms of the opening"
        ),
    ),
    description="The customer's row in the bank database (PostgreSQL -> Debezium), latest commit; a deleted "
    "customer has no profile",
)

customer_limit_usage = FeatureView(
    name="customer_limit_usage",
    entity=customer,
    source=transactions,
    windows=(Window(HOUR, MINUTE),),
    aggregations=(
        Aggregation("max", "amount_to_limit"),
        Aggregation("mean", "amount_to_limit"),
    ),
    join=AsOfJoin(
        bank_customers,
        on="customer_id",
        columns=("credit_limit",),
        derived=(Derived("amount_to_limit", "`amount` / NULLIF(`credit_limit`, 0)", ("amount", "credit_limit")),),
    ),
    ttl=timedelta(days=2),
    description="Payments against the credit limit that held when each was made (as-of join with the bank's "
    "customers through CDC): the largest and the mean share of the limit over the last hour",
)

FEATURE_VIEWS: dict[str, AnyView] = {
    v.name: v for v in (customer_txn_stats, merchant_txn_stats, customer_profile, customer_limit_usage)
}
# Windowed views over events alone: what a backfill from archived events (rtml offline seed) can compute.
WINDOWED_VIEWS: dict[str, FeatureView] = {
    n: v for n, v in FEATURE_VIEWS.items() if isinstance(v, FeatureView) and v.join is None
}


HOUR_MS = 3_600_000

fraud_detection = FeatureService(
    name="fraud",
    views=(customer_txn_stats, merchant_txn_stats, customer_profile, customer_limit_usage),
    request=(
        RequestFeature("amount", "CAST(amount AS DOUBLE)", lambda tx: float(tx.amount), "the payment's amount"),
        RequestFeature(
            "log_amount", "LN(1 + CAST(amount AS DOUBLE))", lambda tx: math.log1p(tx.amount), "ln(1 + amount)"
        ),
        RequestFeature(
            "channel_online",
            "CASE WHEN channel = 'online' THEN 1.0 ELSE 0.0 END",
            lambda tx: 1.0 if tx.channel == "online" else 0.0,
        ),
        RequestFeature(
            "channel_atm",
            "CASE WHEN channel = 'atm' THEN 1.0 ELSE 0.0 END",
            lambda tx: 1.0 if tx.channel == "atm" else 0.0,
        ),
        RequestFeature(
            "hour_of_day",
            f"CAST((ts // {HOUR_MS}) % 24 AS DOUBLE)",
            lambda tx: float((tx.ts // HOUR_MS) % 24),
            "UTC hour of the event",
        ),
    ),
    label="transactions",
    description="Inputs of the fraud model: the payment itself, the customer's and the merchant's recent activity, "
    "the customer's row in the bank database and payments against its credit limit (CDC)",
)

FEATURE_SERVICES: dict[str, FeatureService] = {fraud_detection.name: fraud_detection}


def get_service(name: str) -> FeatureService:
    try:
        return FEATURE_SERVICES[name]
    except KeyError:
        raise KeyError(f"no feature service (model) {name!r}; defined: {', '.join(FEATURE_SERVICES)}") from None


def get_view(name: str) -> AnyView:
    try:
        return FEATURE_VIEWS[name]
    except KeyError:
        raise KeyError(f"no feature view {name!r}; defined: {', '.join(FEATURE_VIEWS)}") from None

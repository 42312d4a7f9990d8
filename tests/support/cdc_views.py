"""Feature views for the as-of join test: transactions on a test topic (one partition), joined with the bank's
customers as of each transaction's time, over 1-second tumbling windows (a bounded run ends every window)."""

from __future__ import annotations

from datetime import timedelta

from feature_pipelines.definitions import Aggregation, AsOfJoin, Derived, Entity, FeatureView, Source, Window
from feature_pipelines.repository import bank_customers
from schemas.transaction import Transaction

TOPIC = "test.cdc.transactions"
S = timedelta(seconds=1)

source = Source("test_cdc_transactions", topic=TOPIC, schema=Transaction, watermark_delay=0 * S)

limit_usage = FeatureView(
    name="test_customer_limit_usage",
    entity=Entity("customer", join_key="customer_id"),
    source=source,
    windows=(Window(S, S),),
    aggregations=(Aggregation("max", "amount_to_limit"), Aggregation("max", "credit_limit"), Aggregation("count")),
    join=AsOfJoin(
        bank_customers,
        on="customer_id",
        columns=("credit_limit",),
        derived=(Derived("amount_to_limit", "`amount` / NULLIF(`credit_limit`, 0)", ("amount", "credit_limit")),),
    ),
)

FEATURE_VIEWS = {limit_usage.name: limit_usage}

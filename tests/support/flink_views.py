"""Feature views for the Flink job's tests: the demo aggregations over short windows on a test topic
with one partition, so window output stays small and late events are deterministic."""

from __future__ import annotations

from datetime import timedelta

from feature_pipelines.definitions import Aggregation, Entity, FeatureView, Source, Window
from schemas.transaction import Transaction

TOPIC = "test.flink.transactions"
S = timedelta(seconds=1)

source = Source("test_transactions", topic=TOPIC, schema=Transaction, watermark_delay=5 * S)

customer_stats = FeatureView(
    name="test_customer_stats",
    entity=Entity("customer", join_key="customer_id"),
    source=source,
    windows=(Window(60 * S, 30 * S), Window(300 * S, 30 * S)),
    aggregations=(
        Aggregation("count"),
        Aggregation("sum", "amount"),
        Aggregation("mean", "amount"),
        Aggregation("min", "amount"),
        Aggregation("max", "amount"),
        Aggregation("stddev", "amount"),
        Aggregation("count_distinct", "merchant_id", name="distinct_merchants"),
    ),
)

merchant_stats = FeatureView(
    name="test_merchant_stats",
    entity=Entity("merchant", join_key="merchant_id"),
    source=source,
    windows=(Window(120 * S, 60 * S),),
    aggregations=(Aggregation("count"), Aggregation("mean", "amount")),
)

FEATURE_VIEWS = {v.name: v for v in (customer_stats, merchant_stats)}

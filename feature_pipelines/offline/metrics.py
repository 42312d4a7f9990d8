"""Prometheus metrics of the offline materializer: rows/s per table (``rate()`` of the row counter),
replays skipped, dead-lettered rows, Delta commit latency and consumer lag per topic.

Lag has its own name, ``rtml_offline_lag_records``: the online materializer owns
``rtml_materializer_lag_records`` and a second registration of one name fails at import.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ROWS = Counter("rtml_offline_rows_total", "Rows appended to the offline store (Delta)", ["table"])
REPLAYED_SKIPPED = Counter(
    "rtml_offline_replayed_rows_skipped_total",
    "Replayed records dropped because their offset is already in Delta (app transaction version)",
    ["table"],
)
REJECTED = Counter(
    "rtml_offline_rejected_rows_total",
    "Records sent to dlq.<topic> because they do not fit their offline table",
    ["table"],
)
COMMIT_SECONDS = Histogram(
    "rtml_offline_commit_seconds",
    "Duration of one Delta commit (one table, one batch)",
    ["table"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
LAG = Gauge("rtml_offline_lag_records", "Records of a topic not yet in the offline store", ["topic"])

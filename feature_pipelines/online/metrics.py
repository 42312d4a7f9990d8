"""Prometheus metrics of the online materializer: freshness, rows applied and skipped, lag."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# now - window_end when a row is written: the age of the newest features the scorer can see. A 1-min
# slide with a 5 s watermark delay sits near 5-10 s when the pipeline keeps up.
FRESHNESS_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 300, 600)

FEATURE_FRESHNESS = Histogram(
    "rtml_feature_freshness_seconds",
    "Seconds from a row's window_end to its write to the online store",
    ["view"],
    buckets=FRESHNESS_BUCKETS,
)
ROWS_APPLIED = Counter(
    "rtml_materializer_rows_total", "Feature rows written to the online store", ["component", "view"]
)
ROWS_STALE = Counter(
    "rtml_materializer_stale_rows_total",
    "Feature rows skipped because the store held a row with the same or a later window_end",
    ["component", "view"],
)
ROWS_DELETED = Counter(
    "rtml_materializer_deletes_total", "Entities deleted from the online store by tombstones", ["component", "view"]
)
CONSUMER_LAG = Gauge(
    "rtml_materializer_lag_records",
    "Records not yet read: high watermark minus position, summed over this member's partitions",
    ["component", "topic"],
)

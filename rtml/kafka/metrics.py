"""Prometheus metrics of the Kafka adapters, labelled by component and topic."""

from __future__ import annotations

from prometheus_client import Counter

RECORDS_CONSUMED = Counter("rtml_records_consumed_total", "Records read and validated", ["component", "topic"])
RECORDS_PRODUCED = Counter("rtml_records_produced_total", "Records acknowledged by the broker", ["component", "topic"])
PRODUCE_FAILURES = Counter(
    "rtml_produce_failures_total", "Records the broker did not acknowledge", ["component", "topic"]
)
DEAD_LETTERS = Counter(
    "rtml_dead_letters_total",
    "Records routed to dlq.<topic>, by the rule they broke",
    ["component", "topic", "rule"],
)

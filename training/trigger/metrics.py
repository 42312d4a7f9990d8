"""Prometheus metrics of the retrain trigger (served on ``RTML_TRIGGER_METRICS_PORT``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DURATION_BUCKETS = (5.0, 10.0, 20.0, 30.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0, 1200.0, 3600.0)

RUNS = Counter(
    "ml_retrain_runs_total",
    "Retraining runs by outcome: promoted (new champion), challenger (the gate kept the champion), failed",
    ["model", "outcome"],
)
DECISIONS = Counter(
    "ml_retrain_decisions_total",
    "Policy decisions on drift events and on the pending drift's re-checks: train, defer, skip",
    ["model", "decision"],
)
IN_PROGRESS = Gauge("ml_retrain_in_progress", "1 while a retraining runs", ["model"])
LAST_DURATION = Gauge("ml_retrain_last_run_seconds", "Seconds the last retraining took, failed or not", ["model"])
RUN_DURATION = Histogram(
    "ml_retrain_run_seconds", "Seconds per retraining, failed or not", ["model"], buckets=DURATION_BUCKETS
)
DRIFT_TO_CHAMPION = Histogram(
    "ml_retrain_drift_to_champion_seconds",
    "Seconds from the drift event (its Kafka timestamp) to the new champion announced on models.updates",
    ["model"],
    buckets=DURATION_BUCKETS,
)
LAST_DRIFT_TO_CHAMPION = Gauge(
    "ml_retrain_last_drift_to_champion_seconds", "The latest drift-to-champion time, in seconds", ["model"]
)


def init_series(model: str) -> None:
    """Every series at 0 from the start: a first failed run is then a step from 0 to 1 that ``increase`` sees
    (the RetrainFailed alert and the dashboards' retrain annotations), not a series born at 1."""
    IN_PROGRESS.labels(model).set(0)
    for outcome in ("promoted", "challenger", "failed"):
        RUNS.labels(model, outcome)
    for decision in ("train", "defer", "skip"):
        DECISIONS.labels(model, decision)

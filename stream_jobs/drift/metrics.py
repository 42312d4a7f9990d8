"""Prometheus metrics of the drift monitor (served on ``RTML_MONITOR_METRICS_PORT``, 9104 by default).

``ml_feature_psi`` and ``ml_model_accuracy`` keep the names of the reference alert rules
(``ml_feature_psi > 0.1``, ``ml_model_accuracy < 0.85``: infra/prometheus/rules). Dead letters are counted by the shared
``rtml_dead_letters_total{component="drift-<model>"}`` (``rtml.kafka.metrics``).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge

from stream_jobs.drift.runner import BatchResult, MonitorRunner

FEATURE_PSI = Gauge("ml_feature_psi", "PSI of the feature in the last closed window", ["model", "feature"])
PREDICTION_PSI = Gauge("ml_prediction_psi", "PSI of the score in the last closed window", ["model"])
ACCURACY = Gauge("ml_model_accuracy", "Accuracy over the last joined outcomes (late labels)", ["model"])
ROC_AUC = Gauge("ml_model_roc_auc", "ROC-AUC over the last joined outcomes", ["model"])
PRECISION = Gauge("ml_model_precision", "Precision at the model's threshold over the last joined outcomes", ["model"])
DRIFT_EVENTS = Counter("ml_drift_events_total", "Drift events sent to monitoring.drift", ["model", "kind", "detector"])
LABELS_JOINED = Counter("ml_labels_joined_total", "Predictions joined with their late label", ["model"])
JOIN_EXPIRED = Counter(
    "ml_label_join_expired_total",
    "Join entries dropped after the label TTL: a prediction never labelled, or a label whose prediction never came",
    ["model", "side"],
)
RECORDS = Counter("rtml_monitor_records_total", "Records the monitor processed", ["model", "topic"])
WINDOWS = Gauge("rtml_monitor_windows", "Windows closed since the reference was (re)loaded", ["model"])
PENDING = Gauge("rtml_monitor_join_pending", "Predictions and labels waiting for each other", ["model"])


def init_series(model: str, detectors: Iterable[str]) -> None:
    """Every drift-event series at 0 from the start, so a detector's first event is a step from 0 to 1 that
    ``rate``, ``increase`` and ``changes`` see (a series born at 1 shows no change: the dashboards' drift
    annotations and any alert on the counter would miss it)."""
    for detector in detectors:
        for kind in ("feature", "prediction"):
            DRIFT_EVENTS.labels(model, kind, detector)
    DRIFT_EVENTS.labels(model, "performance", "adwin")


def report(runner: MonitorRunner, result: BatchResult) -> None:
    """The counters, after each batch."""
    model = runner.config.model
    for event in result.events:
        DRIFT_EVENTS.labels(model, event.kind or "feature", event.detector).inc()
    RECORDS.labels(model, runner.config.predictions_topic).inc(result.predictions)
    RECORDS.labels(model, runner.config.labels_topic).inc(result.labels)
    LABELS_JOINED.labels(model).inc(result.joined)
    JOIN_EXPIRED.labels(model, "prediction").inc(result.expired[0])
    JOIN_EXPIRED.labels(model, "label").inc(result.expired[1])


def report_state(runner: MonitorRunner) -> None:
    """The gauges, at each checkpoint (every few seconds: the performance figures sort 2000 outcomes)."""
    model = runner.config.model
    monitor = runner.monitor
    for (kind, detector, feature), value in monitor.latest.items():
        if detector != "psi":
            continue
        if kind == "feature" and feature is not None:
            FEATURE_PSI.labels(model, feature).set(value)
        elif kind == "prediction":
            PREDICTION_PSI.labels(model).set(value)
    performance = monitor.performance
    for gauge, figure in (
        (ACCURACY, performance.accuracy),
        (ROC_AUC, performance.roc_auc),
        (PRECISION, performance.precision),
    ):
        if figure is not None:
            gauge.labels(model).set(figure)
    WINDOWS.labels(model).set(monitor.windows.index)
    PENDING.labels(model).set(len(monitor.join))

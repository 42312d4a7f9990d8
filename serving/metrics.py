"""Prometheus metrics of the scorer (served on ``RTML_SCORER_METRICS_PORT``).

``ml_prediction_latency`` keeps the name of the reference alert rule
(``histogram_quantile(0.99, ml_prediction_latency_bucket) > 0.1``). Dead letters are counted by the
shared ``rtml_dead_letters_total{component="scorer-<model>"}`` (``rtml.kafka.metrics``).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram, Info

from rtml.prometheus import observe_many  # noqa: F401  (the scorer's m.observe_many)
from serving.model_slot import LoadedModel, SwapRejected

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
E2E_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
LOOKUP_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)

PREDICTION_LATENCY = Histogram(
    "ml_prediction_latency",
    "Seconds from consuming an event to producing its prediction (lookup, assembly, inference, encode)",
    ["model"],
    buckets=LATENCY_BUCKETS,
)
END_TO_END_LATENCY = Histogram(
    "rtml_scorer_end_to_end_latency_seconds",
    "Seconds from the event's Kafka timestamp to its prediction acknowledged by the broker "
    "(committed, in exactly-once mode)",
    ["model"],
    buckets=E2E_BUCKETS,
)
BATCH_SIZE = Histogram(
    "rtml_scorer_batch_size", "Records per micro-batch (dead letters included)", ["model"], buckets=BATCH_BUCKETS
)
PREDICTIONS = Counter(
    "rtml_scorer_predictions_total",
    "Predictions produced, by the version that scored them and its role (champion, canary, shadow)",
    ["model", "version", "role"],
)
FEATURE_LOOKUP = Histogram(
    "rtml_scorer_feature_lookup_seconds",
    "Seconds a batch waited on its features (one online store read for every view; a read sent ahead, "
    "while the batch before was scored, waits less)",
    ["model"],
    buckets=LOOKUP_BUCKETS,
)
INFERENCE = Histogram(
    "rtml_scorer_inference_seconds", "Seconds of one model call on a batch", ["model", "role"], buckets=LOOKUP_BUCKETS
)
FEATURES_MISSING = Counter(
    "rtml_scorer_features_missing_total",
    "Events scored with a view's defaults because the entity had no row within the view's TTL",
    ["model", "view"],
)
MODEL = Info(
    "rtml_scorer_model",
    "The version serving each role, its artifact sha256, the runtime and the provider it actually runs on",
    ["model", "role"],
)
MODEL_SWAPS = Counter(
    "rtml_scorer_model_swaps_total",
    "Hot swaps between batches (outcome=swapped) and rejected candidates (outcome=<failed step>)",
    ["model", "role", "outcome"],
)
TRANSACTIONS_ABORTED = Counter(
    "rtml_scorer_transactions_aborted_total",
    "Exactly-once batches aborted and read again (their records are scored once, by the retry)",
    ["model"],
)
SHADOW_FAILURES = Counter(
    "rtml_scorer_shadow_failures_total", "Shadow scores that could not be recorded (non-finite)", ["model"]
)


def report_swap(role: str, old: LoadedModel | None, new: LoadedModel) -> None:
    MODEL.labels(new.source.model, role).info(
        {
            "version": new.version,
            "sha256": new.source.sha256,
            "runtime": type(new.runtime).__name__,
            "provider": new.provider,
        }
    )
    if old is not None:
        MODEL_SWAPS.labels(new.source.model, role, "swapped").inc()


def report_rejection(role: str, error: SwapRejected) -> None:
    MODEL_SWAPS.labels(error.source.model, role, error.step).inc()

"""Wiring: a ``Scorer`` from settings (Kafka clients, online store, registry, model slots), and ``serve``.

Start-up order matters for hot swap: the ``models.updates`` feed is positioned at the topic's end
*before* the registry is asked for the champion, so no alias change can slip between the two.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Consumer, Producer

from feature_pipelines.online.registry import open_store
from feature_pipelines.online.store import OnlineStore
from feature_pipelines.repository import get_service
from rtml.kafka.clients import check_reachable, consumer_config, producer_config
from rtml.settings import Settings
from serving.assembly import FeatureAssembler
from serving.config import CHAMPION, ScorerConfig
from serving.delivery import AtLeastOnceDelivery, Delivery, ExactlyOnceDelivery, log_commit_failure
from serving.metrics import report_rejection, report_swap
from serving.model_slot import ModelSlot, ModelSource, prepare
from serving.runtime import load_runtime
from serving.scorer import BatchReport, Scorer
from serving.updates import UpdateFeed
from training.registry import ModelRegistry, local_path
from training.versions import sha256_file

log = logging.getLogger(__name__)

# Small requests (a fetch, a batch of predictions) must not wait for Nagle's algorithm (TCP_NODELAY).
LOW_LATENCY = {"socket.nagle.disable": True}


class ArtifactResolver:
    """A source's artifact as a local file: the path or ``file:`` URI itself, else the registry's copy
    (downloaded and checked; MLflow is imported on first need, on the loading thread)."""

    def __init__(self, registry: Callable[[], ModelRegistry]) -> None:
        self._registry = registry

    def __call__(self, source: ModelSource) -> Path:
        path = local_path(source.artifact)
        if path is not None and path.is_file():
            return path
        return self._registry().local_artifact(source.model, source.version)


def registry_source(registry: ModelRegistry, model: str, alias: str) -> ModelSource | None:
    """The version holding ``alias`` now, with a local artifact checked against its sha256; None if none."""
    version = registry.alias(model, alias)
    if version is None:
        return None
    path = registry.local_artifact(model, version.version)
    return ModelSource(model, version.version, alias, str(path), version.sha256)


def file_source(path: Path, model: str, version: str) -> ModelSource:
    """An ONNX file served as the champion without the registry (``--model-file``)."""
    return ModelSource(model, version, CHAMPION, str(path.resolve()), sha256_file(path))


def build_scorer(
    settings: Settings,
    config: ScorerConfig,
    *,
    store: OnlineStore | None = None,
    registry: ModelRegistry | None = None,
    model_file: Path | None = None,
    model_version: str = "file",
    on_batch: Callable[[BatchReport], None] | None = None,
) -> Scorer:
    service = get_service(config.model)
    store = store or open_store(settings.redis, {v.name: v for v in service.views})
    store.check()
    check_reachable(settings)
    updates = UpdateFeed(settings, config.updates_topic, config.model)  # before the registry: see above

    @functools.cache
    def the_registry() -> ModelRegistry:
        return registry or ModelRegistry.from_settings(settings)

    ready = functools.partial(
        prepare,
        resolve=ArtifactResolver(the_registry),
        sha256=sha256_file,
        load=lambda path: load_runtime(path, config.runtime),
        feature_names=service.feature_names,
        warmup=FeatureAssembler(service).defaults_matrix(config.policy.max_records),
    )
    champion = ModelSlot(CHAMPION, ready, on_swap=report_swap, on_reject=report_rejection)
    challenger = None
    if config.challenger_alias is not None:
        challenger = ModelSlot(config.challenger_alias, ready, on_swap=report_swap, on_reject=report_rejection)
    if model_file is not None:
        champion.load_now(file_source(model_file, config.model, model_version))
    for slot in (champion, challenger):
        if slot is None or slot.current is not None:
            continue
        source = registry_source(the_registry(), config.model, slot.role)
        if source is None:
            log.warning("model %s has no %s yet: waiting for one on %s", config.model, slot.role, config.updates_topic)
        else:
            slot.load_now(source)

    consumer = Consumer(
        consumer_config(
            settings,
            config.group,
            **{
                "session.timeout.ms": config.session_timeout_ms,
                "heartbeat.interval.ms": max(500, config.session_timeout_ms // 5),
                "on_commit": log_commit_failure,
                "fetch.wait.max.ms": config.fetch_wait_max_ms,
                **LOW_LATENCY,
            },
        )
    )
    delivery: Delivery
    if config.exactly_once:
        producer = Producer(
            producer_config(
                settings,
                **{
                    "transactional.id": config.transactional_id,
                    "transaction.timeout.ms": config.transaction_timeout_ms,
                },
            )
        )
        delivery = ExactlyOnceDelivery(producer, consumer, config.component)
    else:
        # A micro-batch is already a batch: any linger only adds latency. librdkafka's linger.ms=1 measured
        # p50 9.7 ms per hop here against 0.7 ms with 0 (tests/benchmarks/bench_scorer.py, decision 0009).
        producer = Producer(producer_config(settings, **{"linger.ms": 0}, **LOW_LATENCY))
        delivery = AtLeastOnceDelivery(
            producer, consumer, config.component, commit_interval_s=config.commit_interval_ms / 1000
        )
    return Scorer(
        config,
        service,
        consumer=consumer,
        delivery=delivery,
        store=store,
        champion=champion,
        challenger=challenger,
        updates=updates,
        on_batch=on_batch,
    )


def serve(
    settings: Settings, config: ScorerConfig, *, model_file: Path | None = None, model_version: str = "file"
) -> None:
    """Run a scorer until SIGTERM or SIGINT (finish the batch, commit, leave the group)."""
    from prometheus_client import start_http_server

    from rtml.prometheus import track_gc_pauses

    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("%s received: stopping after the current batch", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    scorer = build_scorer(settings, config, model_file=model_file, model_version=model_version)
    if config.metrics_port:
        start_http_server(config.metrics_port)
        log.info("metrics on :%d/metrics", config.metrics_port)
    # a collection stops the loop: its pauses are a metric (at 2k events/s: no full collection in 15 s, and the
    # young ones under a millisecond, so not the latency tail)
    track_gc_pauses(config.component)
    scorer.run(stop)

"""The retrain trigger on real Kafka, a seeded offline store and an MLflow registry with a champion:
a drift event retrains (once, however many drift events arrive during the run), the new version names
the drift, ``models.updates`` hears of it; a failing run leaves the champion and the trigger running."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
from confluent_kafka import Consumer, TopicPartition
from prometheus_client import REGISTRY

from feature_pipelines.offline.delta_store import DeltaOfflineStore
from feature_pipelines.offline.tables import layout_for
from feature_pipelines.repository import WINDOWED_VIEWS
from rtml.datagen.config import GeneratorConfig
from rtml.datagen.history import seed_history
from rtml.kafka.clients import consumer_config
from rtml.kafka.producer import RecordProducer
from rtml.settings import Settings
from schemas.drift import DriftEvent
from schemas.registry import codec_for
from training.pipeline import TrainOptions, run_training
from training.registry import ModelRegistry
from training.trigger.state import DeltaLabelCounter
from training.trigger.trigger import TOPIC, RetrainTrigger

pytestmark = pytest.mark.integration
FAST = TrainOptions(nproc=1, epochs=1)


@pytest.fixture(scope="module")
def world(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Its own data dir (offline store, registry) on the session's Kafka: 3,000 seeded transactions, a champion."""
    local = settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("trigger"), "retrain_cooldown_s": 0.0})
    now = int(time.time() * 1000)
    config = GeneratorConfig(start_ts=now - 600_000, seed=2, rate=5.0, n_customers=200, fraud_rate=0.05)
    store = DeltaOfflineStore.from_settings(local)
    seeded = seed_history(store, config, 3_000, list(WINDOWED_VIEWS.values()))
    champion = run_training(local, "fraud", FAST)
    assert champion.alias == "champion" and champion.version == "1"
    return {"settings": local, "seeded": seeded, "store": store}


def _labels(world: dict[str, Any]) -> DeltaLabelCounter:
    return DeltaLabelCounter(world["store"], layout_for("labels.transactions").table)


def _at_end(settings: Settings, group: str) -> None:
    """Position ``group`` at the end of monitoring.drift: other tests' drift events are not ours."""
    consumer = Consumer(consumer_config(settings, group))
    _, high = consumer.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)
    consumer.commit(offsets=[TopicPartition(TOPIC, 0, high)], asynchronous=False)
    consumer.close()


def _high(settings: Settings) -> int:
    consumer = Consumer(consumer_config(settings, "test-watermarks"))
    _, high = consumer.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)
    consumer.close()
    return int(high)


def _committed(settings: Settings, group: str) -> int:
    consumer = Consumer(consumer_config(settings, group))
    (tp,) = consumer.committed([TopicPartition(TOPIC, 0)], timeout=10)
    consumer.close()
    return int(tp.offset)


def _drift(drift_id: str, *, window_start: int | None = None, version: str = "1") -> DriftEvent:
    now = int(time.time() * 1000)
    start = window_start if window_start is not None else now - 300_000
    return DriftEvent(
        model="fraud",
        detector="psi",
        feature="amount",
        statistic=0.41,
        threshold=0.25,
        window_start=start,
        window_end=max(start, now),
        severity="critical",
        ts=now,
        drift_id=drift_id,
        kind="feature",
        version=version,
    )


def _publish(settings: Settings, drift: DriftEvent) -> None:
    producer = RecordProducer(settings, "test")
    producer.send(TOPIC, drift.model, drift)
    producer.flush(10)


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"model": "fraud", **labels}) or 0.0


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def running(world: dict[str, Any]) -> Iterator[Callable[..., tuple[RetrainTrigger, str]]]:
    """Start a trigger in a thread (its own consumer group, at the topic's end); stopped after the test."""
    started: list[tuple[RetrainTrigger, threading.Event, threading.Thread]] = []

    def start(**overrides: Any) -> tuple[RetrainTrigger, str]:
        settings = world["settings"].model_copy(update=overrides)
        group = f"test-trigger-{uuid.uuid4().hex[:8]}"
        _at_end(settings, group)
        trigger = RetrainTrigger(settings, "fraud", labels=_labels(world), options=FAST, group=group)
        stop = threading.Event()
        thread = threading.Thread(target=trigger.serve, args=(stop,), daemon=True)
        thread.start()
        started.append((trigger, stop, thread))
        return trigger, group

    yield start
    for _, stop, thread in started:
        stop.set()
        thread.join(120)


def _updates(settings: Settings, version: str, timeout_s: float = 30) -> list[Any]:
    consumer = Consumer(consumer_config(settings, f"test-updates-{uuid.uuid4().hex[:8]}"))
    consumer.subscribe(["models.updates"])
    codec, found = codec_for("models.updates"), []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not found:
        for message in consumer.consume(100, 0.5):
            if message.error() is None and message.value() is not None:
                update = codec.decode(message.value())
                if update.model == "fraud" and update.version == version and update.ts >= time.time() * 1000 - 600_000:
                    found.append(update)
    consumer.close()
    return found


def test_labels_are_counted_after_the_drift_and_since_the_last_training(world: dict[str, Any]) -> None:
    seeded, counter = world["seeded"], _labels(world)
    everything = counter(0, None)
    assert 0 < everything <= seeded.labels
    assert counter(seeded.last_ts + 3_600_000, None) == 0  # no event after the drift began
    assert counter(0, int(time.time() * 1000)) == 0  # nothing archived since the last training
    # label maturity: only events before until_ms count (split at the middle of the seeded span)
    middle = (seeded.first_ts + seeded.last_ts) // 2
    older, newer = counter(0, None, middle), counter(middle, None)
    assert 0 < older < everything and older + newer == everything
    assert counter(0, None, seeded.last_ts + 1) == everything


def test_a_drift_event_retrains_once_and_names_itself(
    world: dict[str, Any], running: Callable[..., tuple[RetrainTrigger, str]]
) -> None:
    settings = world["settings"]
    trigger, group = running(retrain_min_new_labels=0)
    registry = ModelRegistry.from_settings(settings)
    drift_id = f"drift-{uuid.uuid4().hex[:8]}"
    published = time.monotonic()
    _publish(settings, _drift(drift_id))
    _wait(lambda: trigger.run is not None, 30, "the run to start")
    _publish(settings, _drift(f"{drift_id}-again"))  # the same shift, seen again while the run goes on
    _wait(lambda: trigger.runs_finished == 1 and trigger.run is None, 240, "the run to finish")
    seconds = time.monotonic() - published

    versions = registry.versions("fraud")
    assert [v.version for v in versions] == ["2", "1"], "exactly one new version"
    assert versions[0].trigger == drift_id
    updates = _updates(settings, "2")
    assert updates and updates[0].alias in ("champion", "challenger")
    print(f"\ndrift event -> version 2 {updates[0].alias} on models.updates: {seconds:.1f} s")
    if updates[0].alias == "champion":
        assert _metric("ml_retrain_last_drift_to_champion_seconds") > 0

    # both drift records are settled once the run ended: the committed offset is past them
    _wait(lambda: _committed(settings, group) == _high(settings), 10, "the offsets to be committed")
    time.sleep(3)  # re-checks come and go: no second run
    assert trigger.runs_finished == 1 and trigger.run is None and len(registry.versions("fraud")) == 2


def test_a_failed_run_keeps_the_champion_and_the_trigger(
    world: dict[str, Any], running: Callable[..., tuple[RetrainTrigger, str]]
) -> None:
    settings = world["settings"]
    registry = ModelRegistry.from_settings(settings)
    champion = registry.alias("fraud", "champion")
    before = len(registry.versions("fraud"))
    failed = _metric("ml_retrain_runs_total", outcome="failed")
    # the window starts a minute before a drift that begins tomorrow: no labelled event in it
    trigger, _ = running(retrain_min_new_labels=0, retrain_history_s=60.0)
    tomorrow = int(time.time() * 1000) + 86_400_000
    assert champion is not None
    _publish(settings, _drift(f"drift-{uuid.uuid4().hex[:8]}", window_start=tomorrow, version=champion.version))
    _wait(lambda: trigger.runs_finished == 1 and trigger.run is None, 120, "the run to fail")

    assert _metric("ml_retrain_runs_total", outcome="failed") == failed + 1
    assert registry.alias("fraud", "champion") == champion
    assert len(registry.versions("fraud")) == before
    assert _metric("ml_retrain_in_progress") == 0
    # still deciding: a drift below the minimum severity is read and skipped
    skipped = _metric("ml_retrain_decisions_total", decision="skip")
    low = _drift(f"drift-{uuid.uuid4().hex[:8]}")
    _publish(settings, msgspec.structs.replace(low, severity="info"))
    _wait(lambda: _metric("ml_retrain_decisions_total", decision="skip") == skipped + 1, 30, "a skip decision")

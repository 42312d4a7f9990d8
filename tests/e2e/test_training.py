"""From a generated history to a registered champion, as a user runs it: ``rtml offline seed``,
``rtml train --nproc 2`` (torchrun, two gloo ranks), the registry's lineage, the gate, the
``models.updates`` record a scorer hot-swaps on, rollback."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from feature_pipelines.repository import fraud_detection
from rtml.kafka.clients import consumer_config
from rtml.settings import Settings
from schemas.registry import codec_for
from tests.support.cli import run_rtml
from tests.support.draining import read_topic
from tests.support.services import isolated_settings, settings_env


def rtml(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return run_rtml(env, *args, timeout=timeout)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, dict[str, str]]]:
    settings = isolated_settings(tmp_path_factory.mktemp("training"))
    env = settings_env(settings)
    up = rtml(env, "up", "--only", "kafka,redis")
    try:
        assert up.returncode == 0, up.stderr
        assert rtml(env, "topics", "create").returncode == 0
        seeded = rtml(env, "offline", "seed", "--transactions", "20000", "--rate", "10", "--seed", "4")
        assert seeded.returncode == 0, seeded.stderr
        assert "20,000 transactions" in seeded.stdout
        yield settings, env
    finally:
        rtml(env, "down")


def _updates(settings: Settings) -> list[Any]:
    return read_topic(settings, "models.updates")


def _registry(settings: Settings) -> Any:
    from training.registry import ModelRegistry

    return ModelRegistry.from_settings(settings)


def test_train_registers_a_champion_with_lineage(stack: tuple[Settings, dict[str, str]]) -> None:
    settings, env = stack
    run = rtml(env, "train", "--model", "fraud", "--nproc", "2", "--epochs", "3")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "fraud version 1 is the champion" in run.stdout

    registry = _registry(settings)
    champion = registry.alias("fraud", "champion")
    assert champion is not None and champion.version == "1"
    assert champion.trigger == "manual"
    assert json.loads(champion.tags["feature_names"]) == list(fraud_detection.feature_names)
    assert champion.tags["feature_definition_hash"] == fraud_detection.fingerprint
    versions = json.loads(champion.tags["delta_versions"])
    assert set(versions) == {
        "events/transactions",
        "labels/transactions",
        "features/customer_txn_stats",
        "features/merchant_txn_stats",
        "features/customer_profile",  # the bank's snapshot, written by the seed
        "features/customer_limit_usage",  # backfilled against it
    }
    assert registry.reference_profile("fraud", "1") is not None

    # the artifact a scorer loads: its sha256 checks out, it takes raw features in the registry's order
    path = registry.local_artifact("fraud", "1")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.zeros((3, len(fraud_detection.feature_names)), dtype=np.float32)
    x[:, 0] = [5.0, 50.0, 5000.0]
    x[1, 5:] = np.nan  # missing features are imputed inside the graph
    scores = session.run(None, {"features": x})[0]
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))

    updates = [u for u in _updates(settings) if u.model == "fraud"]
    assert [(u.version, u.alias, u.action) for u in updates] == [("1", "champion", "promoted")]
    assert updates[0].sha256 == champion.sha256


def test_a_drift_triggered_run_is_gated_and_can_be_rolled_back(stack: tuple[Settings, dict[str, str]]) -> None:
    settings, env = stack
    run = rtml(env, "train", "--nproc", "1", "--epochs", "1", "--seed", "3", "--trigger", "drift-e2e-1")
    assert run.returncode == 0, run.stdout + run.stderr
    registry = _registry(settings)
    second = registry.get("fraud", "2")
    assert second.trigger == "drift-e2e-1"
    assert "gate:" in run.stdout
    champion = registry.alias("fraud", "champion")
    assert champion is not None
    if champion.version == "2":  # the gate found it at least as good: roll it back to version 1
        back = rtml(env, "models", "rollback", "fraud")
        assert back.returncode == 0, back.stdout + back.stderr
        champion = registry.alias("fraud", "champion")
        assert champion is not None and champion.version == "1"
        actions = [(u.version, u.action) for u in _updates(settings) if u.model == "fraud"]
        assert actions[-1] == ("1", "rolled_back")
    else:
        assert registry.alias("fraud", "challenger").version == "2"  # type: ignore[union-attr]
    listing = rtml(env, "models", "list", "fraud")
    assert listing.returncode == 0 and "drift-e2e-1" in listing.stdout


def test_the_scorer_serves_the_champion_as_a_pipeline(stack: tuple[Settings, dict[str, str]]) -> None:
    """rtml jobs start scorer: every generated transaction gets one prediction from the champion; no
    online features were materialized here, so each is scored with the defaults and says so."""
    settings, env = stack
    started = rtml(env, "jobs", "start", "scorer")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        produced = rtml(env, "produce", "transactions", "--count", "300", "--fast", "--seed", "11")
        assert produced.returncode == 0, produced.stderr
        consumer = Consumer(consumer_config(settings, "e2e-predictions"))
        partitions = consumer.list_topics("predictions.fraud", timeout=10).topics["predictions.fraud"].partitions
        consumer.assign([TopicPartition("predictions.fraud", p, OFFSET_BEGINNING) for p in partitions])
        codec = codec_for("predictions.fraud")
        predictions: dict[str, Any] = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(predictions) < 300:
            for message in consumer.consume(500, 1.0):
                if message.error() is None:
                    p = codec.decode(message.value())
                    assert p.event_id not in predictions, "an event was scored twice"
                    predictions[p.event_id] = p
        consumer.close()
        assert len(predictions) == 300
        champion = _registry(settings).alias("fraud", "champion")
        assert champion is not None
        assert {(p.model, p.version) for p in predictions.values()} == {("fraud", champion.version)}
        assert all(p.features_missing and 0.0 <= p.score <= 1.0 for p in predictions.values())
    finally:
        stopped = rtml(env, "jobs", "stop", "scorer")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def test_train_without_kafka_stops_before_training(tmp_path: Any) -> None:
    settings = isolated_settings(tmp_path)  # nothing started: no broker at its port
    run = rtml(settings_env(settings), "train", "--nproc", "1")
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert "rtml up" in run.stderr

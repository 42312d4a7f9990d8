"""Hot swap mid-stream, with a real MLflow registry: the scorer starts on the registry's champion; bad
candidates (wrong sha256, wrong feature signature) are refused while the champion keeps serving; a good one
takes over between batches. Every event is scored exactly once, and versions only move forward."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import msgspec
import pytest
from confluent_kafka import Producer
from prometheus_client import REGISTRY

from rtml.kafka.clients import producer_config
from rtml.settings import Settings
from schemas.model_update import ModelUpdate
from serving.app import build_scorer
from serving.config import ScorerConfig
from serving.scorer import BatchReport
from serving.testing import write_linear_onnx
from tests.integration.serving.conftest import (
    NAMES,
    EventSender,
    ScorerTopics,
    predictions,
    read_all,
    read_to_end,
    transaction,
    weights,
    write_features,
)
from training.publish import model_update
from training.registry import ModelRegistry

EVENTS = 1200


def run_dir(root: Path, name: str, model: Path) -> Path:
    run = root / name
    run.mkdir()
    (run / "model.onnx").write_bytes(model.read_bytes())
    (run / "metrics.json").write_text(json.dumps({"slice": "test", "test": {"pr_auc": 0.5, "roc_auc": 0.8}}))
    names = json.loads(
        {p.key: p.value for p in __import__("onnx").load(str(model)).metadata_props}["rtml.feature_names"]
    )
    (run / "run.json").write_text(json.dumps({"feature_names": names, "seed": 1, "world_size": 1}))
    return run


def swaps(outcome: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "rtml_scorer_model_swaps_total", {"model": "fraud", "role": "champion", "outcome": outcome}
        )
        or 0.0
    )


@pytest.fixture
def registry(tmp_path: Path, model_files: dict[str, Path]) -> ModelRegistry:
    registry = ModelRegistry(
        f"sqlite:///{tmp_path}/mlflow.db", artifact_root=tmp_path / "artifacts", cache_dir=tmp_path / "cache"
    )
    reordered = write_linear_onnx(tmp_path / "reordered.onnx", NAMES[::-1], weights(3), bias=-2.0)
    for name, model in (("v1", model_files["1"]), ("v2", model_files["2"]), ("v3", reordered)):
        registry.register_run("fraud", run_dir(tmp_path, name, model))
    registry.set_alias("fraud", "champion", "1")
    return registry


def test_hot_swap_mid_stream_scores_every_event_once_and_swaps_between_batches(
    settings: Settings, topics: ScorerTopics, registry: ModelRegistry
) -> None:
    t = uuid.uuid4().hex[:8]
    customers = [f"{t}-c{i}" for i in range(20)]
    write_features(settings, customers, ["m1"])
    scoped = topics.settings(
        settings, scorer_batch_max_records=32, scorer_batch_max_ms=20, scorer_instance_id=t, scorer_exactly_once=True
    )
    config = ScorerConfig.from_settings(scoped, "fraud", "events.transactions")
    reports: list[BatchReport] = []
    before = {outcome: swaps(outcome) for outcome in ("swapped", "sha256", "signature")}
    scorer = build_scorer(scoped, config, registry=registry, on_batch=reports.append)
    assert scorer.champion.current is not None and scorer.champion.current.version == "1"

    sent = [transaction(t, i, customers[i % 20]) for i in range(EVENTS)]
    sender = EventSender(settings, topics.events)

    def produce() -> None:
        for i, tx in enumerate(sent):
            sender.send(tx)
            if i % 20 == 19:
                sender.flush()
                time.sleep(0.04)
        sender.flush()

    stop = threading.Event()
    threads = [threading.Thread(target=produce, daemon=True), threading.Thread(target=scorer.run, args=(stop,))]
    for thread in threads:
        thread.start()
    updates = Producer(producer_config(settings))

    def publish(update: ModelUpdate) -> None:
        updates.produce(topics.updates, msgspec.json.encode(update), "fraud")
        assert updates.flush(10) == 0

    try:
        read_all(settings, topics.predictions, lambda m: len(m) >= 300)
        good = model_update(registry.set_alias("fraud", "champion", "2"))
        publish(msgspec.structs.replace(good, sha256="0" * 64))  # the artifact is not what was registered
        v3 = registry.get("fraud", "3")
        publish(msgspec.structs.replace(good, version="3", artifact_uri=v3.artifact_uri, sha256=v3.sha256))
        publish(good)
        threads[0].join(60)
        read_all(settings, topics.predictions, lambda m: len(m) >= EVENTS, seconds=120)
    finally:
        stop.set()
        threads[1].join(30)
    assert not threads[1].is_alive()

    got = predictions(read_to_end(settings, topics.predictions))
    assert sorted(p.event_id for p in got) == sorted(tx.event_id for tx in sent)  # once each
    version_of = {p.event_id: p.version for p in got}
    assert set(version_of.values()) == {"1", "2"}
    by_partition: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for tx in sent:
        partition, offset = sender.placed[tx.event_id]
        by_partition[partition].append((offset, version_of[tx.event_id]))
    for partition, scored in by_partition.items():
        versions = [v for _, v in sorted(scored)]
        assert versions == sorted(versions), f"partition {partition} went back to an older version"
    assert all(len(r.versions) == 1 for r in reports)  # one version per batch
    batch_versions = [r.versions["champion"] for r in reports]
    assert batch_versions == sorted(batch_versions) and batch_versions[-1] == "2"
    assert {o: swaps(o) - before[o] for o in before} == {"swapped": 1, "sha256": 1, "signature": 1}
    info = {"model": "fraud", "role": "champion", "version": "2", "provider": "cpu", "runtime": "OnnxRuntimeModel"}
    assert REGISTRY.get_sample_value("rtml_scorer_model_info", {**info, "sha256": good.sha256}) == 1

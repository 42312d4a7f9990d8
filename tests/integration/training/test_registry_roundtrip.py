"""A real MLflow registry (SQLite in a temp dir): register, tag, promote through the gate, roll back, publish."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rtml.kafka.consumer import ValidatingConsumer
from rtml.settings import Settings
from serving.testing import write_linear_onnx
from tests.support.draining import collect_until
from training.gate import GateRule
from training.holdout import profile_training_set
from training.promotion import promote
from training.publish import TOPIC, UpdatePublisher
from training.registry import ModelRegistry, RegistryError
from training.versions import sha256_file

NAMES = ["amount_z", "txn_count_1h", "is_foreign"]
TRUE_W = [1.5, 1.0, 2.0]
LINEAGE = {"delta_versions": {"features.customer_txn_stats": 4}, "feature_definition_hash": "fdh1"}


def linear_onnx(path: Path, weights: Sequence[float], bias: float) -> Path:
    """score = sigmoid(features @ w + b) over NAMES."""
    return write_linear_onnx(path, NAMES, weights, bias)


def make_run(root: Path, name: str, weights: Sequence[float], bias: float, data: Path, **lineage: object) -> Path:
    run = root / name
    run.mkdir()
    linear_onnx(run / "model.onnx", weights, bias)
    metrics = {"slice": "test", "threshold": 0.4, "test": {"pr_auc": 0.5, "roc_auc": 0.8, "brier": 0.1, "f1": 0.4}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    record = {
        "feature_names": NAMES,
        "params": {"lr": 0.01},
        "seed": 1,
        "world_size": 1,
        "lineage": {**LINEAGE, **lineage},
        "data": str(data),
    }
    (run / "run.json").write_text(json.dumps(record))
    return run


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3))
    y = (rng.uniform(size=600) < 1 / (1 + np.exp(-(X @ np.asarray(TRUE_W) - 2.0)))).astype(np.int64)
    table = pa.table({"event_id": [f"e{i}" for i in range(600)], "ts": np.arange(600) * 1000, "label": y})
    for j, name in enumerate(NAMES):
        table = table.append_column(name, pa.array(X[:, j]))
    path = tmp_path_factory.mktemp("data") / "set.parquet"
    pq.write_table(table, path)
    return path


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    root = tmp_path_factory.mktemp("mlflow")
    return ModelRegistry(f"sqlite:///{root}/mlflow.db", artifact_root=root / "artifacts", cache_dir=root / "cache")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, data: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    return {
        "good": make_run(root, "good", TRUE_W, -2.0, data),
        "bad": make_run(root, "bad", [-1.0, 0.0, 0.5], 0.0, data, trigger="drift-42"),
        "better": make_run(root, "better", [1.5, 1.0, 2.1], -2.0, data),
    }


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_registered_versions_carry_lineage_and_a_verifiable_artifact(
    registry: ModelRegistry, runs: dict[str, Path], data: Path
) -> None:
    model = unique("lineage")
    profile = profile_training_set(runs["good"] / "model.onnx", data)
    v1 = registry.register_run(model, runs["good"], profile=profile, code_revision="abc123")
    v2 = registry.register_run(model, runs["bad"])
    assert (v1.version, v2.version) == ("1", "2")
    assert v1.sha256 == sha256_file(runs["good"] / "model.onnx") != v2.sha256
    artifact = Path(v1.artifact_uri)
    assert artifact.is_absolute() and sha256_file(artifact) == v1.sha256
    assert registry.local_artifact(model, "1") == artifact
    assert v1.feature_names == NAMES and v1.delta_versions == {"features.customer_txn_stats": 4}
    assert v1.tags["feature_definition_hash"] == "fdh1" and v1.code_revision == "abc123"
    assert (v1.trigger, v2.trigger) == ("manual", "drift-42")
    assert v2.code_revision != "unknown" and v1.training_set == str(data)
    assert v1.metrics["pr_auc"] == 0.5 and v1.metrics["test.f1"] == 0.4
    assert [v.version for v in registry.versions(model)] == ["2", "1"]
    assert model in registry.models()
    assert registry.reference_profile(model, "1") == profile
    assert registry.reference_profile(model, "2") is None


def test_gate_promotes_the_better_model_and_rollback_restores_the_champion(
    registry: ModelRegistry, runs: dict[str, Path]
) -> None:
    model = unique("gate")
    for name in ("good", "bad", "better"):
        registry.register_run(model, runs[name])
    first = promote(registry, model, "1")
    assert first.decision.promote and first.change is not None and first.change.previous is None
    refused = promote(registry, model, "2")
    assert not refused.decision.promote and refused.change is None
    assert any("FAIL" in r for r in refused.decision.reasons)
    assert registry.alias(model, "champion").version == "1"  # type: ignore[union-attr]
    better = promote(registry, model, "3", rule=GateRule(max_secondary_drop=0.05))
    assert better.decision.promote, better.decision.reasons
    assert better.change is not None and better.change.previous is not None
    assert better.change.previous.version == "1" and better.champion_eval is not None
    assert registry.get(model, "champion").aliases == ("champion",)
    assert registry.alias_history(model) == ["1", "3"]

    back = registry.rollback(model)
    assert (back.version.version, back.previous.version, back.action) == ("1", "3", "rolled_back")  # type: ignore[union-attr]
    assert registry.get(model, "champion").version == "1" and registry.alias_history(model) == ["1"]
    with pytest.raises(RegistryError, match="no earlier champion"):
        registry.rollback(model)

    forced = promote(registry, model, "2", force=True)
    assert forced.change is not None and registry.get(model, "champion").version == "2"
    assert promote(registry, model, "2").change is None  # already the champion
    challenger = promote(registry, model, "3", alias="challenger")
    assert challenger.change is not None and registry.get(model, "3").aliases == ("challenger",)


def test_unknown_versions_are_one_line_errors(registry: ModelRegistry, runs: dict[str, Path]) -> None:
    model = unique("errors")
    registry.register_run(model, runs["good"])
    with pytest.raises(RegistryError, match="see `rtml models list`"):
        registry.get(model, "9")
    with pytest.raises(RegistryError, match="has no champion"):
        registry.rollback(model)
    assert registry.alias(unique("nobody"), "champion") is None


def test_promotion_is_published_to_models_updates(
    settings: Settings, registry: ModelRegistry, runs: dict[str, Path]
) -> None:
    model = unique("pub")
    registry.register_run(model, runs["good"])
    v2 = registry.register_run(model, runs["better"])
    publisher = UpdatePublisher(settings)
    publisher.check_reachable()
    publisher.publish(registry.set_alias(model, "champion", "1"))
    sent = publisher.publish(registry.set_alias(model, "champion", "2"))

    group = unique("test-models-updates")
    with ValidatingConsumer(settings, [TOPIC], group=group, component="test") as consumer:
        got = collect_until(consumer, lambda r: r.record.model == model, lambda kept: len(kept) >= 2, seconds=60)
    assert [r.key for r in got] == [model.encode()] * 2
    first, second = (r.record for r in got)
    assert (first.version, first.previous_version) == ("1", None)
    assert second == sent and (second.version, second.previous_version, second.action) == ("2", "1", "promoted")
    assert second.sha256 == v2.sha256 and Path(second.artifact_uri).is_file()
    assert second.metrics["pr_auc"] == 0.5

"""``rtml train``'s pipeline on bad input: one clear error, nothing registered, nothing promoted."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from feature_pipelines.offline.delta_store import DeltaOfflineStore
from feature_pipelines.repository import WINDOWED_VIEWS
from feature_pipelines.training_set import TrainingSetError
from rtml.datagen.config import GeneratorConfig
from rtml.datagen.history import seed_history
from rtml.settings import Settings
from tests.support.services import isolated_settings
from training.pipeline import TrainingFailed, TrainOptions, TrainOutcome, _register_and_gate, run_training

START = 1_790_000_000_000
OPTIONS = TrainOptions(nproc=1, epochs=1, publish=False)


def _registered(settings: Settings) -> list[str]:
    from training.registry import ModelRegistry

    return ModelRegistry.from_settings(settings).models()


def _seed(settings: Settings, *, fraud_rate: float, views: bool = True, n: int = 3_000) -> None:
    config = GeneratorConfig(start_ts=START, seed=2, rate=5.0, n_customers=200, fraud_rate=fraud_rate)
    seed_history(DeltaOfflineStore.from_settings(settings), config, n, list(WINDOWED_VIEWS.values()) if views else [])


def test_an_empty_offline_store_is_refused(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    with pytest.raises(TrainingSetError, match="does not exist .* run the offline materializer"):
        run_training(settings, "fraud", OPTIONS)
    assert _registered(settings) == []


def test_features_missing_from_the_offline_store_are_named(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    _seed(settings, fraud_rate=0.05, views=False)  # events and labels, no feature rows
    with pytest.raises(TrainingSetError, match="features/customer_txn_stats does not exist.*backfill"):
        run_training(settings, "fraud", OPTIONS)
    assert _registered(settings) == []


def test_an_empty_time_range_is_refused(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    _seed(settings, fraud_rate=0.05)
    with pytest.raises(TrainingSetError, match="no labelled event"):
        run_training(settings, "fraud", TrainOptions(nproc=1, publish=False, start_ms=1, end_ms=2))
    assert _registered(settings) == []


def test_a_single_class_label_set_is_refused(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    _seed(settings, fraud_rate=0.0)
    with pytest.raises(TrainingFailed, match="one class|single class|both classes"):
        run_training(settings, "fraud", OPTIONS)
    assert _registered(settings) == []


def test_a_corrupt_artifact_is_neither_registered_nor_promoted(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    _seed(settings, fraud_rate=0.05)
    good = run_training(settings, "fraud", OPTIONS)
    assert good.alias == "champion" and _registered(settings) == ["fraud"]

    # a file changed after training: its sha256 no longer matches run.json
    tampered = tmp_path / "tampered"
    shutil.copytree(good.run_dir, tampered)
    import onnx

    model = onnx.load(str(tampered / "model.onnx"))
    onnx.helper.set_model_props(model, {"rtml.feature_names": json.dumps(["amount"]), "edited": "yes"})
    onnx.save(model, str(tampered / "model.onnx"))  # still a valid model, but not the one trained
    outcome = TrainOutcome("fraud", tampered, good.training_set)
    with pytest.raises(TrainingFailed, match="changed after training .sha256"):
        _register_and_gate(settings, outcome, OPTIONS, print)

    # corrupt bytes that run.json agrees with: the model does not load
    broken = tmp_path / "broken"
    shutil.copytree(good.run_dir, broken)
    (broken / "model.onnx").write_bytes(b"not an onnx model")
    run = json.loads((broken / "run.json").read_text())
    run["model"]["sha256"] = hashlib.sha256(b"not an onnx model").hexdigest()
    (broken / "run.json").write_text(json.dumps(run))
    with pytest.raises(TrainingFailed, match="not a readable ONNX model"):
        _register_and_gate(settings, TrainOutcome("fraud", broken, good.training_set), OPTIONS, print)

    from training.registry import ModelRegistry

    registry = ModelRegistry.from_settings(settings)
    assert [v.version for v in registry.versions("fraud")] == ["1"]
    assert registry.alias("fraud", "champion").version == "1"  # type: ignore[union-attr]

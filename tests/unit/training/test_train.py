"""The entry point in one process (world size 1, no process group); torchrun with two ranks is in integration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.support.synthetic_training import FEATURES, LINEAGE, fraud_columns, write_synthetic
from training import evaluate
from training.dataset import load_training_set, time_split, write_training_set
from training.export import onnx_session
from training.train import main
from training.versions import sha256_file


@pytest.fixture(autouse=True)
def single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)


def test_one_process_writes_the_run_directory(small_set_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["--data", str(small_set_path), "--out", str(out), "--epochs", "3", "--hidden", "8", "--patience", "1"]
    assert main([*argv, "--batch-size", "64", "--device", "cpu", "--dump-weights-hash"]) == 0

    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "model.onnx", "run.json", "weights_hash_rank0.txt"]
    run = json.loads((out / "run.json").read_text())
    assert (run["world_size"], run["backend"], run["device"], run["precision"]) == (1, "none", "cpu", "float32")
    assert run["feature_names"] == list(FEATURES) and run["lineage"] == LINEAGE
    assert sum(s["rows"] for s in run["splits"].values()) == 600
    assert run["splits"]["train"]["ts_max"] < run["splits"]["val"]["ts_min"]
    assert run["model"]["sha256"] == sha256_file(out / "model.onnx")
    assert 1 <= run["best_epoch"] <= run["epochs_run"] <= 3
    assert run["samples_per_s"] == run["per_rank_samples_per_s"][0] > 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"test", "validation", "baseline", "threshold", "beats_baseline"}
    assert run["calibration"]["method"] == "platt" and run["params"]["calibration"] == "platt"
    features = np.zeros((2, len(FEATURES)), dtype=np.float32)
    assert onnx_session(out / "model.onnx").run(["score"], {"features": features})[0].shape == (2,)
    assert main(argv) == 2  # a run directory is never overwritten


def test_platt_calibration_beats_the_baseline_brier_without_touching_the_weights(tmp_path: Path) -> None:
    """pos_weight skews the raw probabilities above the constant's Brier; the calibrated ONNX model is below it."""
    data = write_synthetic(tmp_path / "train.parquet", n_rows=2000, seed=5)
    argv = ["--data", str(data), "--epochs", "3", "--batch-size", "128", "--lr", "3e-3", "--hidden", "16"]
    for method in ("none", "platt"):
        out = tmp_path / method
        assert main([*argv, "--out", str(out), "--calibration", method, "--device", "cpu", "--dump-weights-hash"]) == 0
    hashes = {(tmp_path / method / "weights_hash_rank0.txt").read_text() for method in ("none", "platt")}
    assert len(hashes) == 1  # calibration comes after training and leaves the weights alone
    run, metrics = (json.loads((tmp_path / "platt" / name).read_text()) for name in ("run.json", "metrics.json"))
    raw = json.loads((tmp_path / "none" / "metrics.json").read_text())
    assert json.loads((tmp_path / "none" / "run.json").read_text())["calibration"] == {"method": "none"}
    assert set(run["calibration"]) == {"method", "a", "b"} and run["calibration"]["a"] > 0
    assert raw["test"]["brier"] > raw["baseline"]["brier"]  # the skew calibration removes
    assert metrics["test"]["brier"] < metrics["baseline"]["brier"] and metrics["beats_baseline"]["brier"]
    assert metrics["test"]["roc_auc"] == pytest.approx(raw["test"]["roc_auc"], abs=1e-6)  # a monotone map
    assert metrics["threshold"] != raw["threshold"]  # chosen on the calibrated validation scores

    dataset = load_training_set(data)
    _, _, test = time_split(dataset.ts)
    (scores,) = onnx_session(tmp_path / "platt" / "model.onnx").run(["score"], {"features": dataset.X[test]})
    assert evaluate.brier(dataset.y[test], scores) == pytest.approx(metrics["test"]["brier"], abs=1e-6)


def test_calibration_needs_both_classes_in_validation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    columns = fraud_columns(200)
    columns["label"] = np.r_[np.tile([0, 1], 70), np.zeros(60, dtype=np.int64)]
    path = write_training_set(tmp_path / "one_class_val.parquet", columns, FEATURES, LINEAGE)
    assert main(["--data", str(path), "--out", str(tmp_path / "run")]) == 2
    assert "--calibration none" in capsys.readouterr().err


def test_a_missing_file_fails_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data", str(tmp_path / "nope.parquet"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "nope.parquet" in err[0]
    assert not (tmp_path / "run").exists()


def test_a_train_slice_with_one_class_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    columns = fraud_columns(200)
    columns["label"] = np.r_[np.zeros(170, dtype=np.int64), np.ones(30, dtype=np.int64)]
    path = write_training_set(tmp_path / "one_class.parquet", columns, FEATURES, LINEAGE)
    assert main(["--data", str(path), "--out", str(tmp_path / "run")]) == 2
    assert "only label 0" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [["--hidden", "0"], ["--dropout", "1.5"], ["--epochs", "0"], ["--hidden", "a,b"]])
def test_bad_arguments_stop_before_training(bad: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--data", str(tmp_path / "d.parquet"), "--out", str(tmp_path / "run"), *bad])
    assert exited.value.code == 2

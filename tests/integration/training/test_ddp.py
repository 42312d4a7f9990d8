"""Real torchrun: two gloo ranks on the CPU train the same synthetic set twice with the same seed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.synthetic_training import FEATURES, LINEAGE, write_synthetic
from training.artifact import onnx_feature_names
from training.dataset import load_training_set, time_split
from training.export import onnx_session
from training.pipeline import torchrun_env
from training.versions import sha256_file

REPO = Path(__file__).resolve().parents[3]
RANKS = 2


def torchrun(data: Path, out: Path, seed: int = 11) -> subprocess.CompletedProcess[str]:
    env = {**torchrun_env(out.parent / f"tmp-{out.name}"), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(RANKS),
        "-m", "training.train", "--data", str(data), "--out", str(out), "--seed", str(seed),
        "--epochs", "5", "--batch-size", "128", "--lr", "3e-3", "--hidden", "32,16", "--device", "cpu",
        "--dump-weights-hash",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("ddp")
    data = write_synthetic(root / "train.parquet", n_rows=3000, seed=3)
    first, second = root / "run1", root / "run2"
    torchrun(data, first)
    torchrun(data, second)
    return data, first, second


def weight_hashes(out: Path) -> list[str]:
    return [(out / f"weights_hash_rank{r}.txt").read_text().strip() for r in range(RANKS)]


def test_both_ranks_end_with_identical_weights(runs: tuple[Path, Path, Path]) -> None:
    _, first, _ = runs
    hashes = weight_hashes(first)
    assert len(hashes[0]) == 64 and hashes[0] == hashes[1]


def test_the_same_seed_reproduces_the_same_weights(runs: tuple[Path, Path, Path]) -> None:
    _, first, second = runs
    assert weight_hashes(first) == weight_hashes(second)


def test_the_model_beats_the_constant_baseline(runs: tuple[Path, Path, Path]) -> None:
    metrics = json.loads((runs[1] / "metrics.json").read_text())
    test, baseline = metrics["test"], metrics["baseline"]
    assert test["roc_auc"] > 0.8 and baseline["roc_auc"] == 0.5
    assert test["pr_auc"] > baseline["pr_auc"] + 0.1
    assert test["brier"] < baseline["brier"]  # Platt calibration undoes the pos_weight skew
    assert all(metrics["beats_baseline"].values())


def test_run_json_records_the_distributed_run(runs: tuple[Path, Path, Path]) -> None:
    data, first, _ = runs
    run = json.loads((first / "run.json").read_text())
    assert (run["world_size"], run["backend"], run["device"]) == (RANKS, "gloo", "cpu")
    assert run["lineage"] == LINEAGE and run["feature_names"] == list(FEATURES)
    assert run["data"] == str(data.resolve()) and run["seed"] == 11
    assert run["calibration"]["method"] == "platt" and run["calibration"]["a"] > 0
    assert [run["splits"][s]["rows"] for s in ("train", "val", "test")] == [2100, 450, 450]
    assert len(run["per_rank_samples_per_s"]) == RANKS and run["samples_per_s"] > 0
    assert run["samples_processed"] == 5 * 2100  # 2100 train rows split evenly: no padding


def test_the_onnx_model_scores_the_test_slice(runs: tuple[Path, Path, Path]) -> None:
    data, first, _ = runs
    path = first / "model.onnx"
    assert json.loads((first / "run.json").read_text())["model"]["sha256"] == sha256_file(path)
    assert onnx_feature_names(path) == list(FEATURES)
    dataset = load_training_set(data)
    _, _, test = time_split(dataset.ts)
    (scores,) = onnx_session(path).run(["score"], {"features": dataset.X[test]})
    assert scores.shape == (len(test),) and np.all((scores >= 0) & (scores <= 1))

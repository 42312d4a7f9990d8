"""The rendered PyTorchJob: valid YAML, one master plus workers, the training command of a local run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rtml.settings import project_root
from training.k8s import TEMPLATE, job_name, label_value, render_pytorchjob, to_yaml, training_args
from training.pipeline import TrainOptions, torchrun_command

DATA = Path("/rtml/data/training/fraud/20260101-000000/training_set.parquet")
OUT = Path("/rtml/data/training/fraud/20260101-000000/run")
OPTIONS = TrainOptions(nproc=2, epochs=3, batch_size=256, seed=7, trigger="drift-42")


def render(nodes: int = 3) -> dict:
    return render_pytorchjob(
        OPTIONS, model="fraud", name="rtml-train-fraud-x", data=DATA, out=OUT, image="reg/rtml:1", nodes=nodes
    )


def test_the_template_itself_is_a_pytorchjob() -> None:
    job = yaml.safe_load((project_root() / TEMPLATE).read_text())
    assert (job["apiVersion"], job["kind"]) == ("kubeflow.org/v1", "PyTorchJob")
    assert set(job["spec"]["pytorchReplicaSpecs"]) == {"Master", "Worker"}


def test_replicas_image_and_command() -> None:
    job = yaml.safe_load(to_yaml(render(nodes=3)))  # round trip: the text is valid YAML
    specs = job["spec"]["pytorchReplicaSpecs"]
    assert specs["Master"]["replicas"] == 1 and specs["Worker"]["replicas"] == 2
    assert job["metadata"]["name"] == "rtml-train-fraud-x"
    assert job["metadata"]["labels"]["rtml/trigger"] == "drift-42"
    for role in ("Master", "Worker"):
        (container,) = specs[role]["template"]["spec"]["containers"]
        assert container["name"] == "pytorch" and container["image"] == "reg/rtml:1"
        assert container["command"] == ["python", "-m", "torch.distributed.run"]
        args = container["args"]
        assert args[:5] == [
            "--nnodes=3",
            "--nproc-per-node=2",
            "--rdzv-backend=c10d",
            "--rdzv-endpoint=$(MASTER_ADDR):$(MASTER_PORT)",
            "--rdzv-id=rtml-train-fraud-x",
        ]
        # the same training arguments as a local run's torchrun command
        local = torchrun_command(DATA, OUT, OPTIONS)
        assert args[5:] == local[local.index("training.train") - 1 :]
        assert {"name": "RTML_DATA_DIR", "value": "/rtml/data"} in container["env"]


def test_one_node_has_no_workers() -> None:
    assert "Worker" not in render(nodes=1)["spec"]["pytorchReplicaSpecs"]


def test_training_args_are_those_of_torchrun_command() -> None:
    args = training_args(DATA, OUT, OPTIONS)
    assert args[:2] == ["-m", "training.train"]
    assert args[args.index("--epochs") + 1] == "3" and args[args.index("--seed") + 1] == "7"


def test_paths_off_the_shared_volume_are_refused() -> None:
    with pytest.raises(ValueError, match="shared volume"):
        render_pytorchjob(OPTIONS, model="fraud", name="x", data=Path("/tmp/set.parquet"), out=OUT, image="i")


def test_names_and_labels_are_valid_for_kubernetes() -> None:
    name = job_name("Fraud_Model", "20260101-000000-" + "9" * 60)
    assert len(name) <= 63 and name == name.lower() and name[0].isalnum() and name[-1].isalnum()
    assert label_value("fraud:psi:amount:1800000000000") == "fraud-psi-amount-1800000000000"
    assert label_value("-" + "x" * 80) == "x" * 62

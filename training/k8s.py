"""A Kubeflow ``PyTorchJob`` for one training run, rendered from ``infra/k8s/pytorchjob.yaml``.

The containers run ``python -m torch.distributed.run`` with the training arguments that
``training.pipeline.torchrun_command`` builds for a local run; only the launcher flags differ: ``--nnodes``
pods meet at torchrun's c10d rendezvous on the master instead of ``--standalone``.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path
from typing import Any

import yaml

from rtml.settings import project_root
from training.pipeline import TrainOptions, torchrun_command

TEMPLATE = Path("infra") / "k8s" / "pytorchjob.yaml"
DATA_MOUNT = "/rtml"  # where the template mounts the shared volume


def job_name(model: str, stamp: str) -> str:
    """A DNS-1123 name (lowercase, digits, '-', at most 63 characters) for a model's run."""
    name = re.sub(r"[^a-z0-9-]+", "-", f"rtml-train-{model}-{stamp}".lower()).strip("-")
    return name[:63].rstrip("-")


def label_value(text: str) -> str:
    """``text`` as a Kubernetes label value (63 characters of [A-Za-z0-9._-], alphanumeric at both ends)."""
    value = re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)


def training_args(data: Path, out: Path, options: TrainOptions) -> list[str]:
    """``-m training.train --data ... --out ...``: the part of ``torchrun_command`` after the launcher."""
    command = torchrun_command(data, out, dataclasses.replace(options, nproc=1))
    return command[command.index("-m") :]


def render_pytorchjob(
    options: TrainOptions,
    *,
    model: str,
    name: str,
    data: Path,
    out: Path,
    image: str,
    namespace: str = "rtml",
    nodes: int = 1,
    claim: str = "rtml-data",
    data_dir: str = f"{DATA_MOUNT}/data",
    template: Path | None = None,
) -> dict[str, Any]:
    """The manifest for ``nodes`` pods (one master, ``nodes - 1`` workers) of ``options.nproc`` ranks each.

    ``data`` and ``out`` must lie on the shared volume (under ``/rtml``, the claim ``claim``) so that
    every pod and the trigger see them at the same path."""
    if nodes < 1 or options.nproc < 1:
        raise ValueError(f"a PyTorchJob needs at least one node and one rank per node, got {nodes} and {options.nproc}")
    for path in (data, out):
        if not str(path).startswith(DATA_MOUNT + "/"):
            raise ValueError(f"{path} is not on the shared volume mounted at {DATA_MOUNT}: the pods could not see it")
    job = yaml.safe_load((template or project_root() / TEMPLATE).read_text())
    job["metadata"].update(name=name, namespace=namespace)
    job["metadata"]["labels"].update(
        {"rtml/model": label_value(model), "rtml/trigger": label_value(options.trigger or "manual")}
    )
    args = [
        f"--nnodes={nodes}",
        f"--nproc-per-node={options.nproc}",
        "--rdzv-backend=c10d",
        "--rdzv-endpoint=$(MASTER_ADDR):$(MASTER_PORT)",
        f"--rdzv-id={name}",
        *training_args(data, out, options),
    ]
    specs = job["spec"]["pytorchReplicaSpecs"]
    worker = specs.get("Worker") or copy.deepcopy(specs["Master"])
    for role, replicas in (("Master", 1), ("Worker", nodes - 1)):
        spec = specs["Master"] if role == "Master" else worker
        spec["replicas"] = replicas
        pod = spec["template"]["spec"]
        container = next(c for c in pod["containers"] if c["name"] == "pytorch")
        container.update(image=image, command=["python", "-m", "torch.distributed.run"], args=list(args))
        env = [e for e in container.get("env", []) if e["name"] != "RTML_DATA_DIR"]
        container["env"] = [{"name": "RTML_DATA_DIR", "value": data_dir}, *env]
        for volume in pod.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                volume["persistentVolumeClaim"]["claimName"] = claim
    if nodes > 1:
        specs["Worker"] = worker
    else:
        specs.pop("Worker", None)
    return dict(job)


def to_yaml(manifest: dict[str, Any]) -> str:
    return str(yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False))

"""Where a retraining runs: ``local`` (``run_training``: torchrun on this machine) or ``kubernetes`` (the
training step as a Kubeflow ``PyTorchJob``; the training set, registration, gate and publishing stay here).

Both return ``TrainOutcome`` or raise; whatever they raise, the registry's aliases are as they were
unless the gate moved the champion, which is the last step.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Protocol

from rtml.settings import Settings
from training.pipeline import TrainingFailed, TrainOptions, TrainOutcome, run_training

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


class Launcher(Protocol):
    def run(self, model: str, options: TrainOptions, progress: Progress) -> TrainOutcome: ...


class LocalLauncher:
    """``run_training``: the training set, ``torchrun --standalone`` with ``options.nproc`` ranks, the gate."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def run(self, model: str, options: TrainOptions, progress: Progress) -> TrainOutcome:
        return run_training(self.settings, model, options, progress=progress)


class KubectlMissing(RuntimeError):
    """``kubectl`` is not on PATH; the message says what to install or set."""


class KubernetesLauncher:
    """Writes the training set to the shared volume (``settings.state_dir`` must be on it), renders the
    ``PyTorchJob``, applies it with ``kubectl apply -f``, waits for Succeeded or Failed, then registers and
    gates the run as a local one does."""

    def __init__(self, settings: Settings, *, kubectl: str = "kubectl", timeout_s: float = 3600.0) -> None:
        self.settings = settings
        self.kubectl = kubectl
        self.timeout_s = timeout_s

    def _kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        binary = shutil.which(self.kubectl)
        if binary is None:
            raise KubectlMissing(
                f"{self.kubectl} is not installed or not on PATH: install kubectl with access to the cluster, "
                "or set RTML_RETRAIN_LAUNCHER=local to train on this machine"
            )
        return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)

    def run(self, model: str, options: TrainOptions, progress: Progress) -> TrainOutcome:
        from feature_pipelines.offline.delta_store import DeltaOfflineStore
        from feature_pipelines.repository import get_service
        from feature_pipelines.training_set import build_training_set
        from training.dataset import write_training_set
        from training.k8s import job_name, render_pytorchjob, to_yaml
        from training.pipeline import _register_and_gate

        s = self.settings
        self._kubectl("version", "--client")  # KubectlMissing before any work
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        root = (s.state_dir / "training" / model / stamp).resolve()
        root.mkdir(parents=True, exist_ok=True)
        service = get_service(model)
        result = build_training_set(
            DeltaOfflineStore.from_settings(s), service, start_ms=options.start_ms, end_ms=options.end_ms
        )
        lineage = {**result.lineage, "trigger": options.trigger or "manual"}
        data = write_training_set(root / "training_set.parquet", result.table, list(service.feature_names), lineage)
        progress(f"training set: {result.table.num_rows:,} labelled events on the shared volume")
        name = job_name(model, stamp)
        manifest = render_pytorchjob(
            dataclasses.replace(options, nproc=s.retrain_nproc),
            model=model,
            name=name,
            data=data,
            out=root / "run",
            image=s.retrain_k8s_image,
            namespace=s.retrain_k8s_namespace,
            nodes=s.retrain_k8s_nodes,
            claim=s.retrain_k8s_claim,
            data_dir=str(s.state_dir.resolve()),
        )
        path = root / "pytorchjob.yaml"
        path.write_text(to_yaml(manifest))
        applied = self._kubectl("apply", "-f", str(path))
        if applied.returncode != 0:
            raise TrainingFailed(f"kubectl apply -f {path} failed: {applied.stderr.strip()[:300]}")
        progress(f"PyTorchJob {s.retrain_k8s_namespace}/{name} applied ({s.retrain_k8s_nodes} node(s))")
        began = time.monotonic()
        self._wait(name)
        outcome = TrainOutcome(model=model, run_dir=root / "run", training_set=data, seconds={})
        outcome.seconds["train"] = time.monotonic() - began
        _register_and_gate(s, outcome, options, progress)
        return outcome

    def _wait(self, name: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        ns = self.settings.retrain_k8s_namespace
        while time.monotonic() < deadline:
            got = self._kubectl("get", "pytorchjob", name, "-n", ns, "-o", "jsonpath={.status.conditions[*].type}")
            states = set(got.stdout.split()) if got.returncode == 0 else set()
            if "Succeeded" in states:
                return
            if "Failed" in states:
                raise TrainingFailed(f"PyTorchJob {ns}/{name} failed: see `kubectl logs -n {ns} {name}-master-0`")
            time.sleep(5.0)
        raise TrainingFailed(f"PyTorchJob {ns}/{name} did not finish in {self.timeout_s:.0f} s; it is still there")


def launcher_for(settings: Settings) -> Launcher:
    if settings.retrain_launcher == "kubernetes":
        return KubernetesLauncher(settings)
    return LocalLauncher(settings)

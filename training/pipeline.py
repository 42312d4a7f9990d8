"""``rtml train``: offline store -> point-in-time training set -> DDP training -> registry -> gate.

1. The model's feature service (``feature_pipelines.repository.FEATURE_SERVICES``) gives the training
   set from the Delta tables, each at one version (lineage).
2. ``training.train`` runs under ``torchrun`` with ``nproc`` ranks (one rank: a plain process).
3. The run is registered in MLflow with its lineage, trigger and reference profile.
4. The promotion gate compares it with the champion on the newest slice of the same training set:
   it becomes the champion if at least as good, else the challenger. The alias change is published
   to ``models.updates`` so scorers hot-swap.

A failed step leaves the champion as it was and raises ``TrainingFailed`` saying which step and why.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rtml.settings import Settings, project_root

log = logging.getLogger("rtml.training")


class TrainingFailed(RuntimeError):
    """One step of the pipeline failed; the registry's aliases are unchanged."""


@dataclass(frozen=True)
class TrainOptions:
    nproc: int = 1
    epochs: int = 8
    batch_size: int = 512
    seed: int = 0
    extra_args: tuple[str, ...] = ()
    promote: bool = True
    publish: bool = True
    trigger: str | None = None  # a drift event id, None: manual
    start_ms: int | None = None
    end_ms: int | None = None


@dataclass
class TrainOutcome:
    model: str
    run_dir: Path
    training_set: Path
    version: str | None = None
    alias: str | None = None
    promoted: bool = False
    reasons: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def torchrun_command(data: Path, out: Path, options: TrainOptions) -> list[str]:
    """The training command: ``torchrun --standalone`` for several ranks, a plain process for one."""
    args = [
        "-m",
        "training.train",
        "--data",
        str(data),
        "--out",
        str(out),
        "--epochs",
        str(options.epochs),
        "--batch-size",
        str(options.batch_size),
        "--seed",
        str(options.seed),
        *options.extra_args,
    ]
    if options.nproc <= 1:
        return [sys.executable, *args]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={options.nproc}", *args]


def torchrun_env(tmp: Path) -> dict[str, str]:
    """The environment of a local torchrun: one OpenMP thread per rank unless set, no rank variables inherited
    from a caller, and ``TMPDIR`` at ``tmp`` (torchrun's ``torchelastic_*`` dirs stay behind in /tmp when a run
    is killed; the caller removes ``tmp``)."""
    tmp.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE")}
    return {**env, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "TMPDIR": str(tmp)}


def run_training(
    settings: Settings, model: str, options: TrainOptions, *, progress: Callable[[str], None] = log.info
) -> TrainOutcome:
    from feature_pipelines.offline.delta_store import DeltaOfflineStore
    from feature_pipelines.repository import get_service
    from feature_pipelines.training_set import build_training_set
    from training.dataset import write_training_set

    try:
        service = get_service(model)
    except KeyError as exc:
        raise TrainingFailed(str(exc.args[0])) from None
    if options.publish:
        from training.publish import UpdatePublisher

        UpdatePublisher(settings).check_reachable()  # fail before training, not after
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{os.getpid()}"
    root = settings.state_dir / "training" / model / stamp
    root.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}

    began = time.monotonic()
    progress(f"building the point-in-time training set of {model} from the offline store")
    result = build_training_set(
        DeltaOfflineStore.from_settings(settings), service, start_ms=options.start_ms, end_ms=options.end_ms
    )
    lineage = {**result.lineage, "trigger": options.trigger or "manual"}
    data = write_training_set(root / "training_set.parquet", result.table, list(service.feature_names), lineage)
    seconds["training_set"] = time.monotonic() - began
    progress(f"training set: {result.table.num_rows:,} labelled events, {len(service.feature_names)} features")

    began = time.monotonic()
    run_dir = root / "run"
    command = torchrun_command(data, run_dir, options)
    progress(f"training with {options.nproc} rank(s): {' '.join(command[1:6])} ...")
    try:
        proc = subprocess.run(
            command, cwd=project_root(), env=torchrun_env(root / "tmp"), capture_output=True, text=True
        )
    finally:
        shutil.rmtree(root / "tmp", ignore_errors=True)
    (root / "train.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        last = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()][-1:] or ["(no output)"]
        raise TrainingFailed(f"training failed (exit {proc.returncode}): {last[0]}; full log {root / 'train.log'}")
    seconds["train"] = time.monotonic() - began
    outcome = TrainOutcome(model=model, run_dir=run_dir, training_set=data, seconds=seconds)
    _register_and_gate(settings, outcome, options, progress)
    return outcome


def check_artifact(run_dir: Path, model: str) -> None:
    """``TrainingFailed`` unless the run's ONNX file is the one it trained (sha256 in ``run.json``),
    loads, and takes the service's features in the service's order."""
    from feature_pipelines.repository import get_service
    from training.artifact import onnx_feature_names
    from training.versions import RunOutput, sha256_file

    try:
        run = RunOutput.load(run_dir)
    except Exception as exc:  # a missing or unreadable run.json/metrics.json
        raise TrainingFailed(f"training run {run_dir} is incomplete: {exc}; nothing registered") from None
    if run.recorded_sha256 is not None and sha256_file(run.model_path) != run.recorded_sha256:
        raise TrainingFailed(
            f"{run.model_path} changed after training (sha256 differs from run.json); nothing registered: retrain"
        )
    try:
        names = onnx_feature_names(run.model_path)
    except Exception as exc:
        raise TrainingFailed(f"{run.model_path} is not a readable ONNX model ({exc}); nothing registered") from None
    expected = list(get_service(model).feature_names)
    if names != expected:
        raise TrainingFailed(
            f"{run.model_path} takes {len(names)} features, not the {len(expected)} of service {model!r} in "
            "order; nothing registered: retrain"
        )


def _register_and_gate(
    settings: Settings, outcome: TrainOutcome, options: TrainOptions, progress: Callable[[str], None]
) -> None:
    from training.gate import GateRule
    from training.holdout import profile_training_set
    from training.promotion import promote
    from training.publish import UpdatePublisher
    from training.registry import ModelRegistry

    began = time.monotonic()
    check_artifact(outcome.run_dir, outcome.model)
    registry = ModelRegistry.from_settings(settings)
    profile = profile_training_set(outcome.run_dir / "model.onnx", outcome.training_set)
    version = registry.register_run(outcome.model, outcome.run_dir, trigger=options.trigger, profile=profile)
    outcome.version = version.version
    outcome.metrics = {k: v for k, v in version.metrics.items() if isinstance(v, float)}
    progress(f"registered {outcome.model} version {version.version} (sha256 {version.sha256[:12]})")
    publisher = UpdatePublisher(settings) if options.publish else None
    if options.promote:
        result = promote(
            registry,
            outcome.model,
            version.version,
            rule=GateRule.from_settings(settings),  # the RTML_GATE_* settings, as `rtml models promote` reads them
            training_set=outcome.training_set,
            holdout_fraction=settings.gate_holdout_fraction,
        )
        outcome.promoted = result.decision.promote
        outcome.reasons = list(result.decision.reasons)
        change = result.change
        if not result.decision.promote:
            change = registry.set_alias(outcome.model, "challenger", version.version, action="registered")
        outcome.alias = "champion" if result.decision.promote else "challenger"
    else:
        change = registry.set_alias(outcome.model, "challenger", version.version, action="registered")
        outcome.alias = "challenger"
    if publisher is not None and change is not None:
        publisher.publish(change)
    outcome.seconds["register"] = time.monotonic() - began

"""``rtml train``: build the training set, train with DDP, register, gate, publish."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from rtml.cli.timeparse import parse_time

console = Console(highlight=False)


def train(
    model: Annotated[str, typer.Option(help="Model (feature service) to train.")] = "fraud",
    nproc: Annotated[int, typer.Option(min=1, max=64, help="DDP ranks (torchrun --nproc-per-node).")] = 1,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs.")] = 8,
    batch_size: Annotated[int, typer.Option(min=1, help="Batch size per rank.")] = 512,
    seed: Annotated[int, typer.Option(help="Seed of weights, sampling and splits.")] = 0,
    start: Annotated[str | None, typer.Option(help="First event time (ISO 8601 UTC or epoch ms).")] = None,
    end: Annotated[str | None, typer.Option(help="Event time to stop before (ISO 8601 UTC or epoch ms).")] = None,
    trigger: Annotated[str | None, typer.Option(help="Drift event id that caused this run (default: manual).")] = None,
    promote: Annotated[bool, typer.Option(help="Run the promotion gate against the champion.")] = True,
    publish: Annotated[bool, typer.Option(help="Publish the alias change to models.updates.")] = True,
) -> None:
    """Train a model from the offline store and register it; the gate decides champion or challenger."""
    from rtml.settings import load_settings
    from training.pipeline import TrainOptions, run_training

    settings = load_settings()
    options = TrainOptions(
        nproc=nproc,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        promote=promote,
        publish=publish,
        trigger=trigger,
        start_ms=parse_time(start) if start else None,
        end_ms=parse_time(end) if end else None,
    )
    outcome = run_training(settings, model, options, progress=lambda m: console.print(f"[dim]·[/] {escape(m)}"))
    metrics = ", ".join(
        f"{k} {outcome.metrics[k]:.4f}" for k in ("roc_auc", "pr_auc", "f1", "brier") if k in outcome.metrics
    )
    timing = ", ".join(f"{k} {v:.1f}s" for k, v in outcome.seconds.items())
    console.print(f"[green]✓[/] {model} version {outcome.version} is the {outcome.alias} ({metrics})")
    for reason in outcome.reasons:
        console.print(f"  gate: {escape(reason)}")
    console.print(f"  run {outcome.run_dir} ({timing})")

"""``rtml models list | register | promote | rollback | publish``: the registry, and scorers told of changes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from rtml.settings import Settings
    from training.publish import UpdatePublisher
    from training.registry import ModelRegistry
    from training.versions import AliasChange, RegisteredVersion

app = typer.Typer(help="Model versions: list, register, promote through the gate, roll back.", no_args_is_help=True)
console = Console(highlight=False)

Alias = Annotated[str, typer.Option("--alias", help="The alias to move.")]
Publish = Annotated[bool, typer.Option(help="Announce the change on models.updates (scorers hot-swap).")]


def _registry() -> tuple[Settings, ModelRegistry]:
    from rtml.settings import load_settings
    from training.registry import ModelRegistry

    settings = load_settings()
    return settings, ModelRegistry.from_settings(settings)


@app.command("list")
def list_versions(model: Annotated[str | None, typer.Argument(help="One model (default: all).")] = None) -> None:
    """Versions, newest first: aliases, metrics, artifact sha256, trigger, code revision, created."""
    _, registry = _registry()
    with console.status("reading the registry ..."):
        names = [model] if model else registry.models()
        versions = [v for name in names for v in registry.versions(name)]
    if not versions:
        console.print(f"no registered models at {registry.tracking_uri}; add one with `rtml models register RUN_DIR`")
        return
    several = len(names) > 1
    columns = ["version", "aliases", "pr_auc", "roc_auc", "brier", "sha256", "trigger", "code", "created (UTC)"]
    table = Table(*(["model"] if several else []), *columns, box=box.SIMPLE_HEAD)
    for v in versions:
        table.add_row(
            *([v.model] if several else []),
            v.version,
            ", ".join(v.aliases) or "-",
            *(_metric(v, m) for m in ("pr_auc", "roc_auc", "brier")),
            v.sha256[:12],
            escape(v.trigger),
            v.code_revision[:12] + ("-dirty" if v.code_revision.endswith("-dirty") else ""),
            dt.datetime.fromtimestamp(v.created_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M"),
        )
    if not several:
        console.print(f"[bold]{escape(names[0])}[/]")
    console.print(table)


def _metric(v: RegisteredVersion, name: str) -> str:
    return f"{v.metrics[name]:.4f}" if name in v.metrics else "-"


@app.command("register")
def register(
    run_dir: Annotated[Path, typer.Argument(help="Output directory of a training run (model.onnx, run.json ...).")],
    model: Annotated[
        str | None, typer.Option(help="Registered model name (default: the first of RTML_MODELS).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Training-set Parquet: builds the reference profile (drift monitor).")
    ] = None,
    trigger: Annotated[str | None, typer.Option(help="Drift event id that caused the run (default: manual).")] = None,
    alias: Annotated[str | None, typer.Option(help="Alias for the new version, e.g. challenger.")] = None,
    publish: Publish = True,
) -> None:
    """Register a training run as a new version (with lineage, metrics and reference profile)."""
    from training.holdout import profile_training_set

    settings, registry = _registry()
    name = model or settings.models[0]
    publisher = _publisher(settings, publish and alias is not None)
    profile = profile_training_set(run_dir / "model.onnx", data) if data is not None else None
    with console.status(f"registering {run_dir} ..."):
        v = registry.register_run(name, run_dir, trigger=trigger, profile=profile)
    console.print(f"[green]✓[/] {v.model} version {v.version} (sha256 {v.sha256[:12]}, trigger {escape(v.trigger)})")
    if profile is None and registry.reference_profile(v.model, v.version) is None:
        console.print("[yellow]![/] no reference profile: pass --data TRAINING_SET so drift can be measured")
    if alias:
        _announce(publisher, registry.set_alias(name, alias, v.version, action="registered"))


@app.command("promote")
def promote(
    model: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[str, typer.Argument(help="Version number to promote.")],
    alias: Alias = "champion",
    force: Annotated[bool, typer.Option(help="Skip the promotion gate.")] = False,
    data: Annotated[
        Path | None, typer.Option(help="Training-set Parquet for the holdout (default: the one the run recorded).")
    ] = None,
    publish: Publish = True,
) -> None:
    """Move an alias to a version; ``champion`` first passes the gate against the current champion."""
    from training.gate import GateRule
    from training.promotion import promote as run_gate

    settings, registry = _registry()
    publisher = _publisher(settings, publish)
    with console.status(f"scoring {model} {version} against the {alias} ..."):
        outcome = run_gate(
            registry,
            model,
            version,
            alias=alias,
            rule=GateRule.from_settings(settings),
            training_set=data,
            holdout_fraction=settings.gate_holdout_fraction,
            force=force,
        )
    for reason in outcome.decision.reasons:
        console.print(f"  {escape(reason)}")
    if not outcome.decision.promote:
        console.print(f"[yellow]not promoted[/]: {model} {alias} stays as it was (--force skips the gate)")
        raise typer.Exit(1)
    _announce(publisher, outcome.change)


@app.command("rollback")
def rollback(
    model: Annotated[str, typer.Argument(help="Registered model name.")],
    alias: Alias = "champion",
    publish: Publish = True,
) -> None:
    """Give the alias back to the version that held it before the current one."""
    settings, registry = _registry()
    publisher = _publisher(settings, publish)
    _announce(publisher, registry.rollback(model, alias))


@app.command("publish")
def publish_current(
    model: Annotated[str, typer.Argument(help="Registered model name.")], alias: Alias = "champion"
) -> None:
    """Announce who holds the alias now (after a publish failed, or for a new scorer)."""
    from training.versions import AliasChange, previous_of

    settings, registry = _registry()
    current = registry.alias(model, alias)
    if current is None:
        raise typer.BadParameter(f"model {model!r} has no {alias}")
    before = previous_of(registry.alias_history(model, alias), current.version)
    change = AliasChange(alias, current, registry.get(model, before) if before else None, "promoted")
    publisher = _publisher(settings, True)
    assert publisher is not None
    publisher.publish(change)
    console.print(f"[green]✓[/] published: {model} {alias} = version {current.version}")


def _publisher(settings: Settings, publish: bool) -> UpdatePublisher | None:
    """A publisher on a broker that answered, checked before the registry changes (a dead broker changes nothing)."""
    if not publish:
        return None
    from training.publish import UpdatePublisher

    publisher = UpdatePublisher(settings)
    publisher.check_reachable()
    return publisher


def _announce(publisher: UpdatePublisher | None, change: AliasChange | None) -> None:
    """Report an alias change and publish it (a failure now says the registry moved and how to catch up)."""
    if change is None:
        return
    was = f" (was {change.previous.version})" if change.previous else ""
    console.print(f"[green]✓[/] {change.model} {change.alias} = version {change.version.version}{was}: {change.action}")
    if publisher is not None:
        publisher.publish(change)
        console.print("  published to models.updates")

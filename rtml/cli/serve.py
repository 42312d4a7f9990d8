"""``rtml serve --model fraud``: the scorer in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def serve(
    model: Annotated[str, typer.Option(help="Model (feature service) to serve.")] = "fraud",
    exactly_once: Annotated[
        bool | None,
        typer.Option("--exactly-once/--at-least-once", help="Kafka transactions (default: RTML_SCORER_EXACTLY_ONCE)."),
    ] = None,
    shadow: Annotated[
        str | None, typer.Option(metavar="ALIAS", help="Also score with ALIAS into predictions.<model>.shadow.")
    ] = None,
    canary: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Share of entities the challenger scores (stable hash).")
    ] = None,
    instance: Annotated[
        str | None, typer.Option(help="Instance id: stable across restarts, unique per live scorer (default: host).")
    ] = None,
    group: Annotated[str | None, typer.Option(help="Consumer group (default: rtml-scorer-<model>).")] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Prometheus port (0: off).")] = None,
    model_file: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Serve this ONNX file, without the registry.")
    ] = None,
    model_version: Annotated[str, typer.Option(help="Version name for --model-file.")] = "file",
) -> None:
    """Score events with the model's champion: micro-batches, online features, ONNX, hot swap."""
    from serving.__main__ import configure
    from serving.app import serve as run_scorer

    logging.getLogger("serving").setLevel(logging.INFO)
    try:
        settings, config = configure(
            model,
            exactly_once=exactly_once,
            shadow=shadow,
            canary=canary,
            instance=instance,
            group=group,
            metrics_port=metrics_port,
        )
    except (KeyError, ValueError) as exc:
        Console(stderr=True, highlight=False).print(f"[bold red]rtml: error:[/] {exc.args[0] if exc.args else exc}")
        raise typer.Exit(2) from None
    run_scorer(settings, config, model_file=model_file, model_version=model_version)

"""``rtml jobs start | stop | status``: the feature job and the materializers, as supervised processes."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rtml.settings import load_settings
from rtml.stack.pipelines import PIPELINES, Pipeline
from rtml.stack.process import StackError

app = typer.Typer(
    help="Run the pipelines: the Flink feature job and the online/offline materializers.", no_args_is_help=True
)
console = Console(highlight=False)

Names = Annotated[
    list[str] | None,
    typer.Argument(
        help=f"Any of: {', '.join(PIPELINES)} (default: {', '.join(n for n, p in PIPELINES.items() if p.default)})."
    ),
]


def _select(names: list[str] | None, *, every: bool = False) -> list[Pipeline]:
    """The named pipelines; none named: the default ones (``every``: all, the opt-in scorer too)."""
    settings = load_settings()
    chosen = names or [name for name, spec in PIPELINES.items() if every or spec.default]
    unknown = [n for n in chosen if n not in PIPELINES]
    if unknown:
        raise StackError(f"unknown job(s) {', '.join(unknown)}; choose from {', '.join(PIPELINES)}")
    return [Pipeline(settings, PIPELINES[n]) for n in chosen]


@app.command("start")
def start(names: Names = None) -> None:
    """Start pipelines in the background (logs under <data dir>/logs); the stack must be up."""
    from rtml.kafka.clients import check_reachable

    pipelines = _select(names)
    check_reachable(pipelines[0].settings)
    for p in pipelines:
        with console.status(f"starting {p.spec.name} ..."):
            pid = p.start()
        console.print(f"[green]✓[/] {p.spec.name:<9} running (pid {pid}): {p.describe()}")


@app.command("stop")
def stop(names: Names = None) -> None:
    """Stop pipelines (the feature job resumes from its last checkpoint when started again)."""
    for p in reversed(_select(names, every=True)):
        console.print(f"{'[green]✓[/] stopped' if p.stop() else '  not running'} {p.spec.name}")


@app.command("status")
def status() -> None:
    """Each pipeline: pid and health (Flink REST for the feature job, /metrics for materializers)."""
    table = Table("job", "state", "pid", "detail", "log")
    all_ok = True
    for p in _select(None, every=True):
        pid = p.process.pid()
        ok = pid is not None and p.ready()
        all_ok &= ok or (pid is None and not p.spec.default)  # an opt-in job that was never started is fine
        state = "[green]running[/]" if ok else ("[yellow]starting/unhealthy[/]" if pid else "[red]stopped[/]")
        table.add_row(
            p.spec.name, state, str(pid or "-"), p.describe() if pid else p.spec.description, str(p.process.log_file)
        )
    console.print(table)
    if not all_ok:
        raise typer.Exit(1)

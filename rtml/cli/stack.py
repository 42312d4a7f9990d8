"""``rtml up / down / status / settings``: the local stack supervisor."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rtml.settings import load_settings
from rtml.stack.supervisor import Stack

console = Console(highlight=False)

Only = Annotated[
    str | None, typer.Option("--only", help="Comma-separated subset: kafka,redis,prometheus,postgres,connect.")
]


def _only(only: str | None) -> list[str] | None:
    return only.split(",") if only else None


def up(only: Only = None) -> None:
    """Start the local stack (Kafka KRaft broker, Redis, Prometheus, PostgreSQL, Kafka Connect with Debezium)
    and wait until each is ready."""
    stack = Stack(load_settings())
    for svc in stack.select(_only(only)):
        with console.status(f"starting {svc.name} ..."):
            pid = svc.start()
        console.print(f"[green]✓[/] {svc.name:<11} ready at {svc.address}  (pid {pid})")
    console.print(f"state and logs under {stack.settings.state_dir}")


def down(only: Only = None) -> None:
    """Stop the local stack gracefully (SIGTERM, then SIGKILL after RTML_STOP_TIMEOUT_S); without
    --only, the pipelines (`rtml jobs`) that run on it are stopped first."""
    stack = Stack(load_settings())
    if not only:
        from rtml.stack.pipelines import PIPELINES, Pipeline

        for spec in reversed(PIPELINES.values()):
            if Pipeline(stack.settings, spec).stop():
                console.print(f"[green]✓[/] stopped job {spec.name}")
    for name, was_running in stack.down(_only(only)):
        console.print(f"{'[green]✓[/] stopped' if was_running else '  not running'} {name}")


def status() -> None:
    """Show each service: pid, readiness, address, log file, and details (the CDC connector's state and
    replication slot lag). Exit 1 when any is not ready."""
    stack = Stack(load_settings())
    table = Table("service", "state", "pid", "address", "log", "detail")
    rows = stack.status()
    for row in rows:
        state = "[green]ready[/]" if row.ready else ("[yellow]starting/unhealthy[/]" if row.pid else "[red]stopped[/]")
        table.add_row(row.name, state, str(row.pid or "-"), row.address, row.log_file, row.detail)
    console.print(table)
    if not all(row.ready for row in rows):
        raise typer.Exit(1)


def show_settings() -> None:
    """Print the effective settings (environment RTML_*, then rtml.toml, then defaults)."""
    settings = load_settings()
    table = Table("setting", "value")
    for name, value in settings.model_dump().items():
        table.add_row(f"RTML_{name.upper()}", str(value))
    table.add_row("(kafka bootstrap)", settings.kafka_bootstrap)
    table.add_row("(redis)", settings.redis)
    table.add_row("(state dir)", str(settings.state_dir))
    console.print(table)

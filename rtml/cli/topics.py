"""``rtml topics create / list``: the topic contracts of docs/topics.md."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from rtml.kafka.clients import check_reachable
from rtml.settings import load_settings
from rtml.topics import create_topics, topic_specs

app = typer.Typer(help="Create and inspect the topics the system's contracts name.", no_args_is_help=True)
console = Console(highlight=False)


@app.command("create")
def create() -> None:
    """Create every topic (and its dlq.<topic>) idempotently; align configs of existing ones."""
    settings = load_settings()
    admin = check_reachable(settings)
    results = create_topics(admin, topic_specs(settings))
    for r in results:
        mark = {"created": "[green]created[/]", "updated": "[yellow]updated[/]"}.get(r.action, "exists ")
        console.print(f"{mark} {r.name}{'  ' + r.detail if r.detail else ''}")
    created = sum(r.action == "created" for r in results)
    console.print(f"{len(results)} topics, {created} created")


@app.command("list")
def list_() -> None:
    """Show each contract topic: partitions and policy wanted, and whether the broker has it."""
    settings = load_settings()
    existing = check_reachable(settings).list_topics(timeout=10).topics
    table = Table("topic", "partitions", "cleanup", "retention", "on broker")
    for spec in topic_specs(settings):
        have = existing.get(spec.name)
        days = int(spec.config.get("retention.ms", "0")) // 86_400_000
        table.add_row(
            spec.name,
            str(spec.partitions),
            spec.config.get("cleanup.policy", "delete"),
            f"{days} d" if days else "-",
            f"[green]{len(have.partitions)} partitions[/]" if have else "[red]missing[/]",
        )
    console.print(table)

"""``rtml features list`` and ``rtml offline compact``."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

features_app = typer.Typer(help="Feature views: definitions and their schema.", no_args_is_help=True)
offline_app = typer.Typer(help="The offline store (Delta tables).", no_args_is_help=True)
console = Console(highlight=False)


@features_app.command("list")
def list_views(
    view: Annotated[str | None, typer.Argument(help="Show one view's features in detail.")] = None,
) -> None:
    """The feature views: entity, source, windows, features (name and type in their fixed order)."""
    from feature_pipelines.definitions import ChangelogView
    from feature_pipelines.repository import FEATURE_VIEWS, get_view

    if view is not None:
        try:
            v = get_view(view)
        except KeyError as exc:
            raise typer.BadParameter(str(exc.args[0])) from None
        if isinstance(v, ChangelogView):
            table = Table("#", "feature", "type", "expression (of the row after each change)")
            for i, a in enumerate(v.attributes):
                table.add_row(str(i), a.name, a.dtype, a.expression)
            console.print(
                f"[bold]{v.name}[/] ({v.entity.name} by {v.entity.join_key}, latest row of {v.source.topic} "
                f"by {v.source.key}, ttl {v.ttl or 'none, a row holds until the next change'}, "
                f"fingerprint {v.fingerprint})"
            )
            console.print(table)
            return
        table = Table("#", "feature", "type", "aggregation", "window")
        for i, f in enumerate(v.features):
            agg = f.aggregation
            table.add_row(
                str(i),
                f.name,
                f.dtype,
                f"{agg.function}({agg.column or '*'})",
                f"{f.window.label} / slide {_secs(f.window.slide_ms)}",
            )
        console.print(
            f"[bold]{v.name}[/] ({v.entity.name} by {v.entity.join_key}, from {v.source.topic}, "
            f"ttl {v.ttl}, fingerprint {v.fingerprint})"
        )
        console.print(table)
        return
    table = Table("view", "entity", "source", "windows", "slide", "features", "online", "offline")
    for v in FEATURE_VIEWS.values():
        windows, slide = (
            ("latest row (changelog)", "-")
            if isinstance(v, ChangelogView)
            else (", ".join(w.label for w in v.windows), _secs(v.slide_ms))
        )
        table.add_row(
            v.name,
            f"{v.entity.name} ({v.entity.join_key})",
            v.source.topic,
            windows,
            slide,
            str(len(v.features)),
            "yes" if v.online else "no",
            "yes" if v.offline else "no",
        )
    console.print(table)


@features_app.command("backfill")
def backfill(
    view: Annotated[str, typer.Option(help="Feature view to backfill.")],
    start: Annotated[str, typer.Option(help="Rows with window_end after this (ISO 8601 UTC or epoch ms).")],
    end: Annotated[str, typer.Option(help="... up to and including this window_end.")],
) -> None:
    """Compute a view's rows from the archived raw events (DuckDB, same semantics as the Flink job)
    and append them to its offline table; the same backfill over unchanged events writes nothing."""
    from feature_pipelines.backfill import NoEventsError, backfill_view
    from feature_pipelines.definitions import FeatureView
    from feature_pipelines.offline.delta_store import DeltaOfflineStore
    from feature_pipelines.repository import get_view
    from rtml.cli.timeparse import parse_time
    from rtml.settings import load_settings

    try:
        v = get_view(view)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0])) from None
    if not isinstance(v, FeatureView):
        raise typer.BadParameter(
            f"{v.name} is a changelog view: its rows come from {v.source.topic} (Debezium's snapshot of the table "
            "and its changes), not from archived events; there is nothing to backfill"
        )
    start_ms, end_ms = parse_time(start), parse_time(end)
    if end_ms <= start_ms:
        raise typer.BadParameter(f"--end {end} must be after --start {start}")
    store = DeltaOfflineStore.from_settings(load_settings())
    try:
        with console.status(f"backfilling {v.name} ..."):
            result = backfill_view(store, v, start_ms=start_ms, end_ms=end_ms)
    except NoEventsError as exc:
        console.print(f"[red]✗[/] {exc}")
        raise typer.Exit(1) from None
    if result.written:
        console.print(
            f"[green]✓[/] {result.rows:,} rows of {v.name} into {result.table} in {result.seconds:.1f} s "
            f"(from {result.events_table} version {result.events_version})"
        )
    else:
        console.print(
            f"[green]✓[/] already done: this backfill of {v.name} was committed for {result.events_table} "
            f"version {result.events_version}; nothing written"
        )


def _secs(ms: int) -> str:
    return f"{ms // 60_000}m" if ms % 60_000 == 0 else f"{ms // 1000}s"


@offline_app.command("seed")
def seed(
    records: Annotated[int, typer.Option("--transactions", min=1, help="Generated transactions.")] = 100_000,
    rate: Annotated[float, typer.Option(help="Transactions per second of event time.")] = 5.0,
    seed_value: Annotated[int, typer.Option("--seed", help="Seed of the event stream.")] = 0,
    fraud_rate: Annotated[float, typer.Option(help="Share of fraudulent transactions.")] = 0.02,
) -> None:
    """Write a generated history (ending now) of the bank database's customers (RTML_BANK_SEED,
    RTML_BANK_CUSTOMERS) straight into the offline store, with the bank's snapshot for customer_profile, and
    backfill every view from it: a first model can be trained without streaming days of traffic through Kafka."""
    from feature_pipelines.offline.delta_store import DeltaOfflineStore
    from feature_pipelines.repository import FEATURE_VIEWS
    from rtml.datagen.config import GeneratorConfig
    from rtml.datagen.history import seed_history
    from rtml.settings import load_settings

    settings = load_settings()
    now = int(time.time() * 1000)
    span_ms = int(records / rate * 1000)
    config = GeneratorConfig(
        start_ts=now - span_ms,
        seed=seed_value,
        population_seed=settings.bank_seed,
        n_customers=settings.bank_customers,
        n_merchants=settings.bank_merchants,
        rate=rate,
        fraud_rate=fraud_rate,
    )
    store = DeltaOfflineStore.from_settings(settings)
    with console.status("seeding the offline store ...") as status:
        result = seed_history(store, config, records, list(FEATURE_VIEWS.values()), progress=lambda m: status.update(m))
    console.print(
        f"[green]✓[/] {result.transactions:,} transactions ({result.frauds:,} fraud) and {result.labels:,} labels "
        f"in {result.seconds:.1f} s; backfilled " + ", ".join(f"{b.view} ({b.rows:,} rows)" for b in result.backfills)
    )


@offline_app.command("compact")
def compact(
    vacuum: Annotated[bool, typer.Option(help="Also delete files older versions no longer need (>= 7 d).")] = False,
) -> None:
    """Rewrite small files of every Delta table into larger ones (readers and time travel keep working)."""
    from feature_pipelines.offline.compact import compact_all
    from feature_pipelines.offline.delta_store import default_root
    from rtml.settings import load_settings

    root = default_root(load_settings())
    results = compact_all(root, vacuum=vacuum)
    if not results:
        console.print(f"no Delta tables under {root}")
    for r in results:
        console.print(f"{r.table}: {r.files_removed} files -> {r.files_added}")

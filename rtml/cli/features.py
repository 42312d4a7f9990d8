"""``rtml features list`` and ``rtml offline compact``."""

from __future__ import annotations

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
    from feature_pipelines.repository import FEATURE_VIEWS, get_view

    if view is not None:
        try:
            v = get_view(view)
        except KeyError as exc:
            raise typer.BadParameter(str(exc.args[0])) from None
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
        table.add_row(
            v.name,
            f"{v.entity.name} ({v.entity.join_key})",
            v.source.topic,
            ", ".join(w.label for w in v.windows),
            _secs(v.slide_ms),
            str(len(v.features)),
            "yes" if v.online else "no",
            "yes" if v.offline else "no",
        )
    console.print(table)


def _secs(ms: int) -> str:
    return f"{ms // 60_000}m" if ms % 60_000 == 0 else f"{ms // 1000}s"


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

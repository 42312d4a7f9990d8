"""``rtml offline compact``: merge the small files that per-batch appends leave behind.

The materializer commits once per table per batch, so a busy day partition collects many small
Parquet files; ``optimize.compact`` rewrites them into files of about ``target_size`` (default: the
table's ``delta.targetFileSize``, else 100 MB). Rows, app transactions (exactly-once progress) and
history are untouched, and it runs safely beside the materializer (appends never conflict with it).

Vacuum is opt-in. Compaction only *logically* removes the small files: readers of older versions
(time travel, and training sets pinned to a Delta version for lineage) still need them. ``vacuum``
deletes only files removed longer ago than the retention (default ``delta.deletedFileRetentionDuration``,
7 days; shorter values are refused), so a reader of a version younger than that never breaks, while
time travel to a version older than the retention does. Keep the retention above the age of any
training snapshot that must stay reproducible.
"""

from __future__ import annotations

from pathlib import Path

from feature_pipelines.offline.delta_store import CompactionResult, DeltaOfflineStore

__all__ = ["CompactionResult", "compact_all"]


def compact_all(
    root: Path, *, target_size: int | None = None, vacuum: bool = False, retention_hours: int | None = None
) -> list[CompactionResult]:
    """Compact every Delta table under ``root`` (then vacuum each, if asked); one result per table."""
    store = DeltaOfflineStore(root)
    results = store.compact(target_size=target_size)
    if vacuum:
        for result in results:
            store.vacuum(result.table, retention_hours=retention_hours)
    return results

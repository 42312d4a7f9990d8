"""The offline store: Delta Lake tables under one root, with idempotent appends.

An append carries Delta *application transactions* (``txn`` actions: app id + version) in the same
commit as its data files. ``committed_version(table, app_id)`` reads the last version back, so a
writer that replays input after a crash can tell what is already in the table.

delta-rs (1.6) records the versions but does not compare them: a commit with a version lower than
the stored one is accepted and even moves the stored version back. This store therefore checks
before writing (``append`` skips a batch whose versions are all committed already, and refuses one
whose versions are only partly committed: the caller must drop replayed rows first), and writes
through the snapshot it checked, so a second writer with the same app id that committed in between
makes this commit fail (delta-rs: "Concurrent transaction failed") instead of duplicating rows.
One writer per app id is the contract; the conflict check is the safety net.

Compaction and vacuum are in ``compact.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake

from rtml.settings import Settings


class StaleTransactionError(Exception):
    """Some app ids of an append are committed already at or beyond its version, others are not."""


class CompactionResult(NamedTuple):
    """What ``optimize.compact`` did to one table: small files removed, larger ones added."""

    table: str
    files_removed: int
    files_added: int


@dataclass(frozen=True)
class AppendResult:
    """``written`` False: every app id was committed already (a replay), nothing was written."""

    table: str
    written: bool
    rows: int
    table_version: int | None


class DeltaOfflineStore:
    """Delta tables named by relative paths (``events/transactions``) under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._tables: dict[str, DeltaTable] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> DeltaOfflineStore:
        return cls(default_root(settings))

    def path(self, table: str) -> Path:
        return self.root / table

    def exists(self, table: str) -> bool:
        return DeltaTable.is_deltatable(str(self.path(table)))

    def tables(self) -> list[str]:
        """Every Delta table under the root, by name, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(log.parent.relative_to(self.root).as_posix() for log in self.root.rglob("_delta_log"))

    def _table(self, table: str, *, refresh: bool = True) -> DeltaTable | None:
        """The cached handle on ``table`` brought up to the latest commit, or None if absent."""
        handle = self._tables.get(table)
        if handle is None:
            if not self.exists(table):
                return None
            handle = self._tables[table] = DeltaTable(str(self.path(table)))
        elif refresh:
            handle.update_incremental()
        return handle

    def version(self, table: str) -> int | None:
        """The table's latest commit version, or None if it does not exist."""
        handle = self._table(table)
        return None if handle is None else handle.version()

    def committed_version(self, table: str, app_id: str) -> int | None:
        return self.committed_versions(table, [app_id])[app_id]

    def committed_versions(self, table: str, app_ids: Sequence[str]) -> dict[str, int | None]:
        """The last committed version of each app id (None: never written), from one snapshot."""
        handle = self._table(table)
        return {app: None if handle is None else handle.transaction_version(app) for app in app_ids}

    def append(
        self, table: str, data: pa.Table, *, app_id: str, version: int, partition_by: Sequence[str] = ("date",)
    ) -> AppendResult:
        """Append ``data`` once for (``app_id``, ``version``): skipped if that version is committed."""
        return self.append_transactions(table, data, {app_id: version}, partition_by=partition_by)

    def append_transactions(
        self,
        table: str,
        data: pa.Table,
        versions: Mapping[str, int],
        *,
        partition_by: Sequence[str] = ("date",),
    ) -> AppendResult:
        """Append ``data`` in one commit that records every (app id, version) of ``versions``.

        Skipped when each app id already has a version >= its own; ``StaleTransactionError`` when
        only some have. ``partition_by`` applies when the append creates the table. New nullable
        columns are merged into the table's schema.
        """
        if not versions:
            raise ValueError(f"append to {table}: at least one app transaction is required")
        handle = self._table(table)
        if handle is not None:
            committed = {app: handle.transaction_version(app) for app in versions}
            done = {app for app, v in versions.items() if (c := committed[app]) is not None and c >= v}
            if done == set(versions):
                return AppendResult(table, False, 0, handle.version())
            if done:
                raise StaleTransactionError(
                    f"append to {table}: app ids {sorted(done)} are committed at or beyond their versions but "
                    f"{sorted(set(versions) - done)} are not; drop the replayed rows before appending"
                )
        commit = CommitProperties(app_transactions=[Transaction(app, int(v)) for app, v in versions.items()])
        write_deltalake(
            handle if handle is not None else str(self.path(table)),
            data,
            mode="append",
            partition_by=list(partition_by) if handle is None else None,
            schema_mode="merge",
            commit_properties=commit,
        )
        handle = self._table(table, refresh=False)  # a handle that wrote is at its own commit already
        assert handle is not None
        return AppendResult(table, True, data.num_rows, handle.version())

    def read(
        self,
        table: str,
        columns: Sequence[str] | None = None,
        filters: Any = None,
        *,
        version: int | None = None,
    ) -> pa.Table:
        """Rows of ``table`` (at ``version``, default latest). ``filters``: DNF tuples such as
        ``[("date", "=", "2024-01-01")]`` or a ``pyarrow.compute`` expression; they prune files."""
        handle = self._open(table, version)
        return handle.to_pyarrow_table(columns=list(columns) if columns is not None else None, filters=filters)

    def dataset(self, table: str, *, version: int | None = None) -> ds.Dataset:
        """A pyarrow dataset for lazy scans, e.g. ``duckdb.from_arrow(store.dataset(name))``."""
        return self._open(table, version).to_pyarrow_dataset()

    def compact(self, table: str | None = None, *, target_size: int | None = None) -> list[CompactionResult]:
        """Rewrite small files into larger ones (``optimize.compact``), one table or all of them.

        Rows, table versions and app transactions are unchanged; the replaced files stay on disk
        (older versions still read them) until ``vacuum``. Safe beside a running materializer:
        compaction commits conflict only with deletes and overwrites, never with appends.
        """
        results = []
        for name in [table] if table is not None else self.tables():
            metrics = self._open(name, None).optimize.compact(target_size=target_size)
            results.append(CompactionResult(name, int(metrics["numFilesRemoved"]), int(metrics["numFilesAdded"])))
        return results

    def vacuum(self, table: str, *, retention_hours: int | None = None) -> list[str]:
        """Delete files that left the table more than ``retention_hours`` ago (default: the table's
        ``delta.deletedFileRetentionDuration``, 7 days); never less than that retention is accepted.
        Time travel to versions older than the retention stops working (see ``compact.py``)."""
        deleted = self._open(table, None).vacuum(
            retention_hours=retention_hours, dry_run=False, enforce_retention_duration=True
        )
        return list(deleted)

    def _open(self, table: str, version: int | None) -> DeltaTable:
        if not self.exists(table):
            raise FileNotFoundError(f"no offline table {table!r} under {self.root}; known: {self.tables()}")
        return DeltaTable(str(self.path(table)), version=version)


def default_root(settings: Settings) -> Path:
    """Where the offline tables live unless told otherwise: ``<state_dir>/offline``."""
    return settings.state_dir / "offline"

"""Compaction merges small files and keeps every row, version history and app transaction."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from feature_pipelines.offline.compact import compact_all
from feature_pipelines.offline.delta_store import DeltaOfflineStore


def batch(offset: int, date: str) -> pa.Table:
    return pa.table({"_offset": pa.array([offset], pa.int64()), "date": pa.array([date])})


def parquet_files(path: Path) -> int:
    return sum(1 for _ in path.rglob("*.parquet"))


def test_compact_all_merges_small_files_per_partition_and_keeps_rows(tmp_path: Path) -> None:
    store = DeltaOfflineStore(tmp_path)
    for i in range(6):
        store.append("events/a", batch(i, "2024-01-01" if i < 4 else "2024-01-02"), app_id="p0", version=i)
    store.append("labels/b", batch(0, "2024-01-01"), app_id="q", version=0)
    before = store.read("events/a").sort_by("_offset")

    results = compact_all(tmp_path)

    assert sorted(results) == [("events/a", 6, 2), ("labels/b", 0, 0)]
    after = DeltaOfflineStore(tmp_path)
    assert after.read("events/a").sort_by("_offset").equals(before)
    assert after.committed_version("events/a", "p0") == 5
    assert after.read("events/a", version=5).num_rows == 6  # older versions still readable
    assert not after.append("events/a", batch(5, "2024-01-02"), app_id="p0", version=5).written
    assert compact_all(tmp_path) == [("events/a", 0, 0), ("labels/b", 0, 0)]  # idempotent


def test_vacuum_keeps_files_within_the_retention(tmp_path: Path) -> None:
    store = DeltaOfflineStore(tmp_path)
    for i in range(3):
        store.append("events/a", batch(i, "2024-01-01"), app_id="p0", version=i)
    compact_all(tmp_path, vacuum=True)  # default retention (7 days): the replaced files stay
    assert parquet_files(tmp_path / "events/a") == 4
    assert store.read("events/a", version=2).num_rows == 3


def test_compact_all_on_an_empty_root(tmp_path: Path) -> None:
    assert compact_all(tmp_path / "missing") == []

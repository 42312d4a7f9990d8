"""DeltaOfflineStore on a temp dir: idempotent appends by app transaction, reads, conflicts."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake.exceptions import CommitFailedError

from feature_pipelines.offline.delta_store import DeltaOfflineStore, StaleTransactionError, default_root
from rtml.settings import load_settings

TABLE = "events/things"


def rows(*offsets: int, date: str = "2024-03-01") -> pa.Table:
    return pa.table(
        {
            "id": pa.array([f"r{o}" for o in offsets], pa.string()),
            "_offset": pa.array(offsets, pa.int64()),
            "date": pa.array([date] * len(offsets), pa.string()),
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> DeltaOfflineStore:
    return DeltaOfflineStore(tmp_path / "offline")


def offsets(store: DeltaOfflineStore) -> list[int]:
    return sorted(store.read(TABLE, columns=["_offset"]).column("_offset").to_pylist())


def test_default_root_is_under_the_state_dir(tmp_path: Path) -> None:
    assert default_root(load_settings(data_dir=tmp_path)) == tmp_path / "offline"


def test_a_missing_table_has_no_version(store: DeltaOfflineStore) -> None:
    assert store.version(TABLE) is None
    assert store.committed_version(TABLE, "a") is None
    assert store.tables() == []
    with pytest.raises(FileNotFoundError, match="events/things"):
        store.read(TABLE)


def test_first_append_creates_a_date_partitioned_table(store: DeltaOfflineStore) -> None:
    result = store.append(TABLE, rows(0, 1), app_id="a", version=1)
    assert result.written and result.rows == 2 and result.table_version == 0
    assert store.tables() == [TABLE]
    assert (store.path(TABLE) / "date=2024-03-01").is_dir()
    assert store.committed_version(TABLE, "a") == 1
    assert store.read(TABLE).schema.names == ["id", "_offset", "date"]


def test_the_same_app_id_and_version_twice_is_written_once(store: DeltaOfflineStore) -> None:
    store.append(TABLE, rows(0, 1), app_id="a", version=1)
    again = store.append(TABLE, rows(0, 1), app_id="a", version=1)
    assert not again.written and again.rows == 0
    assert offsets(store) == [0, 1]
    assert store.version(TABLE) == 0  # no commit for the replay


def test_a_lower_version_is_skipped_and_does_not_move_progress_back(store: DeltaOfflineStore) -> None:
    store.append(TABLE, rows(0, 1, 2), app_id="a", version=2)
    assert not store.append(TABLE, rows(0), app_id="a", version=0).written
    assert store.committed_version(TABLE, "a") == 2
    assert store.append(TABLE, rows(3), app_id="a", version=3).written
    assert store.committed_version(TABLE, "a") == 3
    assert offsets(store) == [0, 1, 2, 3]


def test_version_zero_counts_as_committed(store: DeltaOfflineStore) -> None:
    store.append(TABLE, rows(0), app_id="a", version=0)
    assert not store.append(TABLE, rows(0), app_id="a", version=0).written
    assert offsets(store) == [0]


def test_app_ids_are_independent(store: DeltaOfflineStore) -> None:
    store.append(TABLE, rows(0), app_id="a", version=5)
    assert store.append(TABLE, rows(1), app_id="b", version=1).written
    assert store.committed_versions(TABLE, ["a", "b", "c"]) == {"a": 5, "b": 1, "c": None}


def test_one_commit_carries_several_app_transactions(store: DeltaOfflineStore) -> None:
    result = store.append_transactions(TABLE, rows(0, 1), {"p0": 10, "p1": 20})
    assert result.table_version == 0
    assert store.committed_versions(TABLE, ["p0", "p1"]) == {"p0": 10, "p1": 20}
    assert not store.append_transactions(TABLE, rows(0, 1), {"p0": 10, "p1": 20}).written


def test_a_partly_committed_append_is_refused(store: DeltaOfflineStore) -> None:
    store.append_transactions(TABLE, rows(0, 1), {"p0": 10, "p1": 20})
    with pytest.raises(StaleTransactionError, match="p0"):
        store.append_transactions(TABLE, rows(2), {"p0": 10, "p1": 21})
    with pytest.raises(ValueError, match="at least one"):
        store.append_transactions(TABLE, rows(2), {})
    assert offsets(store) == [0, 1]


def test_a_second_store_sees_commits_of_the_first(tmp_path: Path) -> None:
    first, second = DeltaOfflineStore(tmp_path), DeltaOfflineStore(tmp_path)
    first.append(TABLE, rows(0), app_id="a", version=0)
    assert second.committed_version(TABLE, "a") == 0
    first.append(TABLE, rows(1), app_id="a", version=1)
    assert second.committed_version(TABLE, "a") == 1  # the cached handle is refreshed
    assert not second.append(TABLE, rows(1), app_id="a", version=1).written


def test_a_concurrent_writer_with_the_same_app_id_makes_the_commit_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = DeltaOfflineStore(tmp_path), DeltaOfflineStore(tmp_path)
    first.append(TABLE, rows(0), app_id="a", version=0)
    assert second.version(TABLE) == 0
    first.append(TABLE, rows(1), app_id="a", version=1)
    # ``second`` checked its versions on the older snapshot and writes through it (a race):
    handle = second._tables[TABLE]
    monkeypatch.setattr(handle, "update_incremental", lambda: None)
    with pytest.raises(CommitFailedError):
        second.append(TABLE, rows(1), app_id="a", version=1)
    assert offsets(first) == [0, 1]


def test_read_with_columns_filters_and_versions(store: DeltaOfflineStore) -> None:
    store.append(TABLE, rows(0, 1, date="2024-03-01"), app_id="a", version=1)
    store.append(TABLE, rows(2, date="2024-03-02"), app_id="a", version=2)
    assert store.version(TABLE) == 1
    day = store.read(TABLE, columns=["id"], filters=[("date", "=", "2024-03-02")])
    assert day.column_names == ["id"] and day.column("id").to_pylist() == ["r2"]
    expr = store.read(TABLE, filters=pc.field("_offset") < 1)
    assert expr.column("id").to_pylist() == ["r0"]
    assert store.read(TABLE, version=0).num_rows == 2
    dataset = store.dataset(TABLE)
    assert duckdb.from_arrow(dataset).aggregate("count(*) AS n, max(_offset) AS m").fetchall() == [(3, 2)]


def test_a_new_nullable_column_is_merged(store: DeltaOfflineStore) -> None:
    store.append(TABLE, rows(0), app_id="a", version=0)
    wider = rows(1).append_column("extra", pa.array([1.5], pa.float64()))
    store.append(TABLE, wider, app_id="a", version=1)
    table = store.read(TABLE).sort_by("_offset")
    assert table.column("extra").to_pylist() == [None, 1.5]

"""Batch planning: replayed offsets dropped per partition, one app transaction per partition."""

from __future__ import annotations

import pytest

from feature_pipelines.offline.batch import BatchStats, app_id, by_topic, next_offsets, partitions_of, plan_table
from feature_pipelines.offline.tables import layout_for
from schemas.label import Label
from tests.support.records import received as Rec

TOPIC = "labels.transactions"
LAYOUT = layout_for(TOPIC)


def rec(partition: int, offset: int, topic: str = TOPIC) -> Rec:
    return Rec(topic, partition, offset, Label(event_id=f"e-{partition}-{offset}", label=0, ts=1_700_000_000_000))


def test_app_id_names_group_topic_and_partition() -> None:
    assert app_id("g", "labels.transactions", 2) == "g:labels.transactions:2"


def test_fresh_batch_is_written_whole_with_last_offset_per_partition() -> None:
    records = [rec(0, 5), rec(1, 3), rec(0, 6), rec(1, 4), rec(0, 7)]
    write = plan_table(LAYOUT, records, group="g", committed={}, ingested_at=1)
    assert write.table == "labels/transactions"
    assert write.rows == 5 and write.replayed == 0
    assert write.versions == {"g:labels.transactions:0": 7, "g:labels.transactions:1": 4}


def test_offsets_at_or_below_the_committed_version_are_dropped() -> None:
    records = [rec(0, 5), rec(0, 6), rec(0, 7), rec(1, 3), rec(1, 4), rec(2, 9)]
    committed = {"g:labels.transactions:0": 6, "g:labels.transactions:1": 4, "g:labels.transactions:2": None}
    write = plan_table(LAYOUT, records, group="g", committed=committed, ingested_at=1)
    assert write.replayed == 4
    assert write.conversion.table.column("_offset").to_pylist() == [7, 9]
    # partition 1 is entirely replayed: its version is already in Delta and is not repeated
    assert write.versions == {"g:labels.transactions:0": 7, "g:labels.transactions:2": 9}


def test_a_whole_replay_plans_nothing() -> None:
    write = plan_table(
        LAYOUT, [rec(0, 1), rec(0, 2)], group="g", committed={"g:labels.transactions:0": 2}, ingested_at=1
    )
    assert write.rows == 0 and write.replayed == 2 and write.versions == {}


def test_another_groups_progress_does_not_count() -> None:
    write = plan_table(LAYOUT, [rec(0, 1)], group="g", committed={"other:labels.transactions:0": 9}, ingested_at=1)
    assert write.rows == 1


def test_records_of_another_topic_are_refused() -> None:
    with pytest.raises(ValueError, match="events.transactions"):
        plan_table(LAYOUT, [rec(0, 1, topic="events.transactions")], group="g", committed={}, ingested_at=1)


def test_grouping_and_offsets_to_commit() -> None:
    records = [rec(0, 1), rec(1, 1, topic="labels.other"), rec(0, 2), rec(2, 8)]
    grouped = by_topic(records)
    assert list(grouped) == [TOPIC, "labels.other"]
    assert [r.offset for r in grouped[TOPIC]] == [1, 2, 8]
    assert partitions_of(grouped[TOPIC]) == [0, 2]
    positions = [(r.topic, r.partition, r.offset) for r in records]
    assert next_offsets(positions) == {(TOPIC, 0): 3, ("labels.other", 1): 2, (TOPIC, 2): 9}


def test_batch_stats_add_up() -> None:
    total = BatchStats(records=2, rows=1)
    total += BatchStats(records=3, replayed=2, commits=1)
    assert total == BatchStats(records=5, rows=1, replayed=2, commits=1)

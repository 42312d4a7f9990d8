"""What one consumed batch becomes in the offline store: per table, the rows still to write and the
application transactions that make the write idempotent. Pure: the committed versions are given.

Each Kafka topic partition has its own app id, ``<group>:<topic>:<partition>``, whose version is the
last offset of that partition already in Delta. A record at an offset <= that version was written
by an earlier run that stopped before committing its Kafka offsets: it is dropped here (a replay),
and the rest of the partition is written with version = the partition's last offset in the batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields

from feature_pipelines.offline.tables import Conversion, SourceRecord, TableLayout, to_arrow


@dataclass
class BatchStats:
    """What one batch (or a run, summed with ``+=``) did."""

    records: int = 0  # consumed, valid or not
    rows: int = 0  # appended to Delta
    replayed: int = 0  # dropped: already in Delta
    dead_letters: int = 0
    tombstones: int = 0
    commits: int = 0  # Delta commits

    def __iadd__(self, other: BatchStats) -> BatchStats:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self


def app_id(group: str, topic: str, partition: int) -> str:
    """The Delta application id of one topic partition as read by consumer group ``group``."""
    return f"{group}:{topic}:{partition}"


@dataclass(frozen=True)
class TableWrite:
    """One Delta commit: ``conversion.table`` with ``versions`` (app id -> last offset) as its
    application transactions; ``replayed`` records were dropped as already committed."""

    layout: TableLayout
    conversion: Conversion
    versions: dict[str, int]
    replayed: int

    @property
    def table(self) -> str:
        return self.layout.table

    @property
    def rows(self) -> int:
        return int(self.conversion.table.num_rows)


def by_topic(records: Iterable[SourceRecord]) -> dict[str, list[SourceRecord]]:
    """Records grouped by topic, in order of first appearance; order within a topic is kept."""
    grouped: dict[str, list[SourceRecord]] = defaultdict(list)
    for record in records:
        grouped[record.topic].append(record)
    return dict(grouped)


def partitions_of(records: Iterable[SourceRecord]) -> list[int]:
    return sorted({r.partition for r in records})


def plan_table(
    layout: TableLayout,
    records: Sequence[SourceRecord],
    *,
    group: str,
    committed: Mapping[str, int | None],
    ingested_at: int,
) -> TableWrite:
    """The write for ``records`` of ``layout.topic``, given each partition's committed version.

    ``committed`` maps ``app_id(group, topic, p)`` to its version in Delta (None or missing: never).
    """
    last: dict[int, int] = {}
    fresh: list[SourceRecord] = []
    for record in records:
        if record.topic != layout.topic:
            raise ValueError(f"record of {record.topic} in the batch of {layout.topic}")
        done = committed.get(app_id(group, record.topic, record.partition))
        if done is not None and record.offset <= done:
            continue
        fresh.append(record)
        last[record.partition] = max(record.offset, last.get(record.partition, -1))
    versions = {app_id(group, layout.topic, p): offset for p, offset in sorted(last.items())}
    conversion = to_arrow(layout, fresh, ingested_at=ingested_at)
    return TableWrite(layout, conversion, versions, replayed=len(records) - len(fresh))


def next_offsets(positions: Iterable[tuple[str, int, int]]) -> dict[tuple[str, int], int]:
    """The offset to commit per (topic, partition), from (topic, partition, offset) of every record
    of a batch: one past the last record seen there."""
    offsets: dict[tuple[str, int], int] = {}
    for topic, partition, offset in positions:
        key = (topic, partition)
        offsets[key] = max(offsets.get(key, 0), offset + 1)
    return offsets

"""The materializer's pure parts: default topics and a replay property of plan + store.

The Kafka loop itself is tested on a real broker (tests/integration/test_offline_materializer.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from feature_pipelines.offline.batch import app_id, by_topic, next_offsets, partitions_of, plan_table
from feature_pipelines.offline.delta_store import DeltaOfflineStore
from feature_pipelines.offline.materializer import default_topics
from feature_pipelines.offline.tables import layout_for
from rtml.settings import load_settings
from schemas.label import Label
from tests.support.records import received as Rec

TOPIC = "labels.transactions"


def test_default_topics_follow_the_views_and_streams_of_the_settings(tmp_path: Path) -> None:
    assert default_topics(load_settings(data_dir=tmp_path)) == [
        "features.customer_txn_stats",
        "features.merchant_txn_stats",
        "features.customer_profile",
        "features.customer_limit_usage",
        "events.transactions",
        "labels.transactions",
    ]
    only = load_settings(data_dir=tmp_path, feature_views=["merchant_txn_stats"], event_streams=["clicks"])
    assert default_topics(only) == ["features.merchant_txn_stats"]


def _log(partitions: int, per_partition: int) -> list[Rec]:
    return [
        Rec(TOPIC, p, o, Label(event_id=f"e{p}-{o}", label=0, ts=1_700_000_000_000))
        for o in range(per_partition)
        for p in range(partitions)
    ]


@settings(max_examples=20, deadline=None)
@given(
    partitions=st.integers(1, 3),
    per_partition=st.integers(1, 12),
    sizes=st.lists(st.integers(1, 10), min_size=1, max_size=10),
    crashes=st.lists(st.booleans(), min_size=1, max_size=30),
)
def test_crashes_between_delta_and_kafka_commits_never_duplicate_or_lose(
    partitions: int, per_partition: int, sizes: list[int], crashes: list[bool]
) -> None:
    """Consume a log in batches; a crash after the Delta commit loses the Kafka commit, so the next
    run starts over from the last committed offsets, with batches cut differently (a replay can hold
    more records than the batch it repeats). Every record still lands exactly once."""
    log = _log(partitions, per_partition)
    layout = layout_for(TOPIC)
    with tempfile.TemporaryDirectory() as tmp:
        store = DeltaOfflineStore(Path(tmp))
        committed: dict[tuple[str, int], int] = {}  # Kafka's committed offsets
        for step in range(200):
            pending = [r for r in log if r.offset >= committed.get((r.topic, r.partition), 0)]
            if not pending:
                break
            batch = pending[: sizes[step % len(sizes)]]
            records = by_topic(batch)[TOPIC]
            apps = [app_id("g", TOPIC, p) for p in partitions_of(records)]
            write = plan_table(
                layout, records, group="g", committed=store.committed_versions(layout.table, apps), ingested_at=0
            )
            if write.rows:
                store.append_transactions(layout.table, write.conversion.table, write.versions)
            if step < len(crashes) and crashes[step]:
                continue  # died before the Kafka commit; the restart reads the batch again
            committed.update(next_offsets((r.topic, r.partition, r.offset) for r in batch))
        stored = store.read(layout.table, columns=["_partition", "_offset"]).to_pylist()
        assert sorted((r["_partition"], r["_offset"]) for r in stored) == sorted((r.partition, r.offset) for r in log)

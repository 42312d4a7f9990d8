"""Consumer lag: how many records of each topic the offline materializer has still to store.

``partition_lag`` is the arithmetic. ``consumer_lag`` takes the positions of the consumer's assigned
partitions (local) and asks an admin client for the group's committed offsets (where nothing was
consumed yet) and the end offsets at read_committed, in one request each. The admin client has its
own connection: watermark queries on the consumer's connection wait behind its long-polling fetches
(up to ``fetch.wait.max.ms`` each, ~10 s for 20 partitions).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, IsolationLevel, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

Key = tuple[str, int]


def partition_lag(position: int, low: int, high: int) -> int:
    """Records in ``[position, high)``. A negative position (nothing consumed or committed yet: the
    group starts at the earliest offset) counts from ``low``, the first record still retained."""
    start = max(position, low) if position >= 0 else low
    return max(high - start, 0)


def consumer_lag(consumer: Consumer, admin: AdminClient, group: str, timeout_s: float = 10.0) -> dict[str, int]:
    """Lag per topic over the partitions assigned to ``consumer`` ({} before the first assignment)."""
    assignment = consumer.assignment()
    if not assignment:
        return {}
    positions: dict[Key, int] = {(tp.topic, tp.partition): tp.offset for tp in consumer.position(assignment)}
    unknown = [key for key, offset in positions.items() if offset < 0]
    if unknown:  # nothing consumed since the assignment: the group's committed offset is the position
        request = ConsumerGroupTopicPartitions(group, [TopicPartition(t, p) for t, p in unknown])
        result = admin.list_consumer_group_offsets([request], request_timeout=timeout_s)[group].result()
        for tp in result.topic_partitions or []:
            positions[(tp.topic, tp.partition)] = tp.offset
    high = _offsets(admin, positions, OffsetSpec.latest(), timeout_s)
    never = [key for key, offset in positions.items() if offset < 0]
    low = _offsets(admin, never, OffsetSpec.earliest(), timeout_s) if never else {}
    lag: dict[str, int] = defaultdict(int)
    for key, position in positions.items():
        lag[key[0]] += partition_lag(position, low.get(key, 0), high[key])
    return dict(lag)


def _offsets(admin: AdminClient, keys: Iterable[Key], spec: OffsetSpec, timeout_s: float) -> dict[Key, int]:
    futures = admin.list_offsets(
        {TopicPartition(t, p): spec for t, p in keys},
        isolation_level=IsolationLevel.READ_COMMITTED,
        request_timeout=timeout_s,
    )
    return {(tp.topic, tp.partition): future.result().offset for tp, future in futures.items()}

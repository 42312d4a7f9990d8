"""Kafka as the admin API sees it: topics, end offsets, consumer groups and their lag.

Names follow the widely used kafka_exporter's (``kafka_consumergroup_lag`` ...), so existing dashboards and
rules read them unchanged; series are per topic (partitions summed) to keep label sets small.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from confluent_kafka import ConsumerGroupTopicPartitions, IsolationLevel, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

log = logging.getLogger(__name__)

Partition = tuple[str, int]


@dataclass(frozen=True)
class GroupView:
    state: str
    members: int
    committed: Mapping[Partition, int]  # only partitions with a committed offset


@dataclass(frozen=True)
class KafkaView:
    brokers: int
    partitions: Mapping[str, int]  # topic -> partition count (internal topics left out)
    end_offsets: Mapping[Partition, int]  # the last stable offset: what a read_committed reader can reach
    groups: Mapping[str, GroupView] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicLag:
    committed: int  # sum of the group's committed offsets on the topic
    lag: int  # sum over its partitions of end offset - committed (never negative)


def group_lag(committed: Mapping[Partition, int], end_offsets: Mapping[Partition, int]) -> dict[str, TopicLag]:
    """Per topic: the group's committed offsets and lag. A partition whose end offset is unknown (the topic was
    deleted, the broker did not answer for it) counts no lag rather than a made-up one.

    On transactional topics the end offset lies past the commit marker, so a group that has read everything
    still shows a lag of one record per partition written to since its last commit."""
    sums: dict[str, list[int]] = {}
    for (topic, partition), offset in committed.items():
        entry = sums.setdefault(topic, [0, 0])
        entry[0] += offset
        end = end_offsets.get((topic, partition))
        if end is not None:
            entry[1] += max(0, end - offset)
    return {topic: TopicLag(c, lag) for topic, (c, lag) in sums.items()}


def read_kafka(admin: AdminClient, timeout_s: float) -> KafkaView:
    """One round of admin requests (metadata, offsets, groups). Raises KafkaException if the broker does not
    answer; a group that vanishes meanwhile is skipped."""
    metadata = admin.list_topics(timeout=timeout_s)
    partitions = {
        name: len(topic.partitions)
        for name, topic in metadata.topics.items()
        if not name.startswith("__") and topic.error is None
    }
    requests = {TopicPartition(name, p): OffsetSpec.latest() for name in partitions for p in range(partitions[name])}
    end_offsets: dict[Partition, int] = {}
    if requests:
        futures = admin.list_offsets(requests, isolation_level=IsolationLevel.READ_COMMITTED, request_timeout=timeout_s)
        for tp, future in futures.items():
            try:
                end_offsets[(tp.topic, tp.partition)] = future.result().offset
            except KafkaException as exc:
                log.debug("no end offset for %s[%d]: %s", tp.topic, tp.partition, exc)
    return KafkaView(len(metadata.brokers), partitions, end_offsets, _groups(admin, timeout_s))


def _groups(admin: AdminClient, timeout_s: float) -> dict[str, GroupView]:
    listed = admin.list_consumer_groups(request_timeout=timeout_s).result()
    ids = [g.group_id for g in listed.valid]
    if not ids:
        return {}
    described = admin.describe_consumer_groups(ids, request_timeout=timeout_s)
    groups: dict[str, GroupView] = {}
    for group_id in ids:
        try:
            description = described[group_id].result()
            # one group per request: the admin API's limit for committed offsets
            offsets = admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group_id)], request_timeout=timeout_s
            )[group_id].result()
        except KafkaException as exc:
            log.debug("group %s skipped: %s", group_id, exc)
            continue
        committed = {
            (tp.topic, tp.partition): tp.offset
            for tp in offsets.topic_partitions or []
            if tp.error is None and tp.offset >= 0
        }
        groups[group_id] = GroupView(_state_name(description.state), len(description.members), committed)
    return groups


def _state_name(state: object) -> str:
    name = getattr(state, "name", str(state))
    return str(name).lower()

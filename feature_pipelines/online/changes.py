"""A consumed batch of ``features.*`` records as per-view changes: deletions, then upserts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from feature_pipelines.definitions import AnyView


class Consumed(Protocol):
    """What the materializer needs of a consumed record (``rtml.kafka.consumer.Received`` fits)."""

    @property
    def topic(self) -> str: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def record(self) -> Any: ...


@dataclass
class ViewChanges:
    """Apply ``deletes`` (entity ids whose key got a tombstone) first, then ``rows`` (consumed records)."""

    view: AnyView
    deletes: list[str] = field(default_factory=list)
    rows: list[Consumed] = field(default_factory=list)


def split_by_view(batch: Iterable[Consumed], views_by_topic: Mapping[str, AnyView]) -> list[ViewChanges]:
    """Group ``batch`` by view, keeping per entity what follows its last tombstone.

    A tombstone drops the entity's earlier rows of the batch and deletes its key; rows after it are
    written again. Records of one key come in offset order (one key, one partition), so applying
    deletions first and then upserts gives the same state as applying the records one by one.
    """
    batch = list(batch)
    if all(item.record is not None for item in batch):  # no tombstone (the usual batch): group by view only
        by_view: dict[str, ViewChanges] = {}
        for item in batch:
            view = views_by_topic[item.topic]
            changes = by_view.get(view.name)
            if changes is None:
                changes = by_view[view.name] = ViewChanges(view)
            changes.rows.append(item)
        return list(by_view.values())
    pending: dict[str, tuple[AnyView, dict[str, list[Consumed]], set[str]]] = {}
    for item in batch:
        view = views_by_topic[item.topic]
        _, rows_by_entity, deleted = pending.setdefault(view.name, (view, {}, set()))
        if item.record is None:
            if item.key is None:
                continue  # a null key and value carries nothing (the consumer does not hand them out)
            entity_id = item.key.decode("utf-8", "replace")
            rows_by_entity.pop(entity_id, None)
            deleted.add(entity_id)
        else:
            rows_by_entity.setdefault(item.record.entity_id, []).append(item)
    return [
        ViewChanges(view, sorted(deleted), [row for rows in by_entity.values() for row in rows])
        for view, by_entity, deleted in pending.values()
    ]

"""What the retrain policy reads from the stores: the registry's training history, the new labels.

The trigger keeps no state of its own: after a restart the registry says when the last version was
registered, which drift ids were served (the ``trigger`` tag) and which version is the champion, and
the offline store says how many labelled events arrived since.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import duckdb

from training.trigger.policy import TrainingHistory

if TYPE_CHECKING:
    from feature_pipelines.offline.delta_store import DeltaOfflineStore
    from training.registry import ModelRegistry

log = logging.getLogger(__name__)


def registry_history(registry: ModelRegistry, model: str) -> TrainingHistory:
    """The newest version's registration time, the champion and every drift id a version names."""
    if model not in registry.models():
        return TrainingHistory()
    versions = registry.versions(model)  # newest first
    champion = next((v.version for v in versions if "champion" in v.aliases), None)
    served = frozenset(v.trigger for v in versions if v.trigger not in ("manual", "unknown"))
    return TrainingHistory(versions[0].created_ms if versions else None, champion, served)


class DeltaLabelCounter:
    """Labelled events in the offline store's ``labels/<name>`` table (what a training set is built
    from; labels still on the topic cannot be trained on yet), counted once per ``event_id``:

    - of events at or after ``since_ms`` (the label's ``event_ts``, else its ``ts``; event time), and before
      ``until_ms`` when given (events old enough for their labels to have arrived: label maturity), and
    - archived after ``after_ms`` (``_ingested_at``, wall time), i.e. not seen by the last training.
    """

    def __init__(self, store: DeltaOfflineStore, table: str) -> None:
        self.store = store
        self.table = table

    def __call__(self, since_ms: int, after_ms: int | None, until_ms: int | None = None) -> int:
        if self.store.version(self.table) is None:
            return 0
        labels = self.store.read(self.table, ["event_id", "ts", "event_ts", "_ingested_at"])
        after = -1 if after_ms is None else after_ms
        con = duckdb.connect()
        try:
            con.register("labels", labels)
            row = con.execute(
                "SELECT count(DISTINCT event_id) FROM labels WHERE coalesce(event_ts, ts) >= ? "
                "AND coalesce(event_ts, ts) < ? AND _ingested_at > ?",
                [since_ms, 2**62 if until_ms is None else until_ms, after],
            ).fetchone()
        finally:
            con.close()
        return int(row[0]) if row else 0

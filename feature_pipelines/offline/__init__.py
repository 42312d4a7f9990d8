"""The offline store: Delta tables of feature rows, raw events and labels, written exactly once.

``tables`` (pure) lays out each topic as a table; ``batch`` (pure) plans one idempotent write per
table; ``delta_store`` is the Delta adapter; ``materializer`` is the Kafka loop
(``python -m feature_pipelines.offline``); ``compact`` backs ``rtml offline compact``.
"""

from feature_pipelines.offline.compact import compact_all
from feature_pipelines.offline.delta_store import (
    AppendResult,
    CompactionResult,
    DeltaOfflineStore,
    StaleTransactionError,
    default_root,
)
from feature_pipelines.offline.tables import TableLayout, layout_for, to_arrow

__all__ = [
    "AppendResult",
    "CompactionResult",
    "DeltaOfflineStore",
    "StaleTransactionError",
    "TableLayout",
    "compact_all",
    "default_root",
    "layout_for",
    "to_arrow",
]

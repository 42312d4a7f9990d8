"""The online feature store: newest row per entity and view, packed for batch reads, and its materializer.

``open_store("redis://...")`` or ``open_store("memory://")`` gives an ``OnlineStore``;
``OnlineMaterializer`` keeps it up to date from the ``features.<view>`` topics.
"""

from feature_pipelines.online.layout import RowEncodingError, RowLayout, decode_rows, encode_row, layout_of, row_key
from feature_pipelines.online.memory import InMemoryOnlineStore
from feature_pipelines.online.registry import open_store
from feature_pipelines.online.store import OnlineFeatures, OnlineStore, OnlineStoreUnavailable

__all__ = [
    "InMemoryOnlineStore",
    "OnlineFeatures",
    "OnlineStore",
    "OnlineStoreUnavailable",
    "RowEncodingError",
    "RowLayout",
    "decode_rows",
    "encode_row",
    "layout_of",
    "open_store",
    "row_key",
]

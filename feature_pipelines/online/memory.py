"""An in-process online store with the Redis store's semantics, for unit tests and notebooks."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from feature_pipelines.definitions import AnyView
from feature_pipelines.online.layout import HEADER_BYTES
from feature_pipelines.online.store import OnlineStore


class InMemoryOnlineStore(OnlineStore):
    """Packed values in a dict, newer ``window_end`` wins, TTLs against ``clock`` (seconds).

    Headers are compared as bytes, exactly the property the layout promises; thread-safe.
    """

    def __init__(
        self, views: Mapping[str, AnyView] | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(views)
        self.clock = clock
        self._items: dict[bytes, tuple[bytes, float]] = {}  # key -> (value, expires at)
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, views: Mapping[str, AnyView] | None = None) -> InMemoryOnlineStore:
        return cls(views)

    def __repr__(self) -> str:
        return f"InMemoryOnlineStore({len(self._items)} keys)"

    def put_newer(self, keys: Sequence[bytes], values: Sequence[bytes], ttl_ms: int) -> list[bool]:
        now = self.clock()
        expires = now + ttl_ms / 1000 if ttl_ms > 0 else math.inf
        stored: list[bool] = []
        with self._lock:
            for key, value in zip(keys, values, strict=True):
                old = self._live(key, now)
                newer = old is None or old[:HEADER_BYTES] < value[:HEADER_BYTES]
                if newer:
                    self._items[key] = (value, expires)
                stored.append(newer)
        return stored

    def get_values(self, keys: Sequence[bytes]) -> list[bytes | None]:
        now = self.clock()
        with self._lock:
            return [self._live(key, now) for key in keys]

    def delete_keys(self, keys: Sequence[bytes]) -> int:
        now = self.clock()
        with self._lock:
            return sum(self._live(key, now) is not None and self._items.pop(key, None) is not None for key in keys)

    def ttl_ms(self, key: bytes) -> int | None:
        """Milliseconds until ``key`` expires, None if it never does or does not exist (like PTTL)."""
        now = self.clock()
        with self._lock:
            if self._live(key, now) is None:
                return None
            expires = self._items[key][1]
        return None if expires == math.inf else round((expires - now) * 1000)

    def _live(self, key: bytes, now: float) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[1] <= now:
            del self._items[key]
            return None
        return item[0]

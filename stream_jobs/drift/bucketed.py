"""A mapping kept in memory and written back to a backing mapping (a faust changelog table) in buckets.

The label join changes its mapping twice per record (an entry waits, then is joined and deleted). Backed by a
faust Table key per event id, that is a changelog record per change: at a few hundred predictions and labels a
second, faust's producer buffer fills and the monitor falls behind. ``BucketedStore`` spreads the keys over
``buckets`` fixed buckets (CRC-32 of the key) and ``flush()`` writes each bucket changed since the last flush as
one value: at most ``buckets`` changelog records per batch, whatever the batch holds. A restarted monitor reads
the buckets back (``load``). Values must be what the backing mapping serializes (JSON lists for the join).
"""

from __future__ import annotations

import zlib
from collections.abc import ItemsView, Iterator, MutableMapping
from typing import Any

DEFAULT_BUCKETS = 64


class BucketedStore(MutableMapping[str, Any]):
    def __init__(self, backing: MutableMapping[str, Any], buckets: int = DEFAULT_BUCKETS) -> None:
        if buckets < 1:
            raise ValueError(f"buckets must be positive, got {buckets}")
        self.backing = backing
        self.buckets = buckets
        self.parts: list[dict[str, Any]] = [{} for _ in range(buckets)]
        self.dirty: set[int] = set()
        self.size = 0

    @classmethod
    def load(cls, backing: MutableMapping[str, Any], buckets: int = DEFAULT_BUCKETS) -> BucketedStore:
        """The store as the backing mapping last held it (after a restart, once the changelog is recovered)."""
        store = cls(backing, buckets)
        for b in range(buckets):
            part = backing.get(cls.key_of(b))
            if part:
                store.parts[b] = dict(part)
        store.size = sum(len(p) for p in store.parts)
        return store

    @staticmethod
    def key_of(bucket: int) -> str:
        return f"bucket-{bucket}"

    def _bucket(self, key: str) -> int:
        return zlib.crc32(key.encode()) % self.buckets

    def __getitem__(self, key: str) -> Any:
        return self.parts[self._bucket(key)][key]

    def __setitem__(self, key: str, value: Any) -> None:
        b = self._bucket(key)
        part = self.parts[b]
        if key not in part:
            self.size += 1
        part[key] = value
        self.dirty.add(b)

    def __delitem__(self, key: str) -> None:
        b = self._bucket(key)
        del self.parts[b][key]
        self.size -= 1
        self.dirty.add(b)

    def __iter__(self) -> Iterator[str]:
        for part in self.parts:
            yield from list(part)

    def __len__(self) -> int:
        return self.size

    def items(self) -> ItemsView[str, Any]:
        return _Items(self)

    def flush(self) -> int:
        """Write the buckets changed since the last flush; returns how many."""
        for b in sorted(self.dirty):
            part = self.parts[b]
            if part:
                self.backing[self.key_of(b)] = dict(part)
            elif self.key_of(b) in self.backing:
                del self.backing[self.key_of(b)]
        written, self.dirty = len(self.dirty), set()
        return written


class _Items(ItemsView[str, Any]):
    """Pairs straight from the buckets (the join's expiry scans them all), not a lookup per key."""

    _mapping: BucketedStore

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        for part in self._mapping.parts:
            yield from list(part.items())

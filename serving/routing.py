"""Canary routing: a stable share of entity keys is scored by the challenger instead of the champion.

An entity's bucket is a hash of its key mapped to ``[0, 1)``: the same on every scorer, across restarts
and Python versions (no ``hash()``, which is salted per process). An entity is in the canary when its
bucket is below the share, so raising the share only adds entities; none flips back and forth.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

_SCALE = float(1 << 64)


def bucket(key: str) -> float:
    """The key's place in ``[0, 1)``: the first 8 bytes of its BLAKE2b digest, big-endian, over 2**64."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def canary_mask(keys: Sequence[str], share: float) -> np.ndarray:
    """bool ``(n,)``: which keys the challenger scores at ``share`` (0: none, 1: all)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"the canary share is a fraction in [0, 1], got {share}")
    if share == 0.0 or not keys:
        return np.zeros(len(keys), dtype=bool)
    if share == 1.0:
        return np.ones(len(keys), dtype=bool)
    return np.fromiter((bucket(k) < share for k in keys), dtype=bool, count=len(keys))

"""Pick an online store from a URL scheme: ``redis://`` / ``rediss://`` / ``unix://``, ``memory://``."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import cast

from feature_pipelines.definitions import AnyView
from feature_pipelines.online.store import OnlineStore

# scheme -> "module:Class"; imported on use, so ``memory://`` never imports redis.
STORES: dict[str, str] = {
    "memory": "feature_pipelines.online.memory:InMemoryOnlineStore",
    "redis": "feature_pipelines.online.redis_store:RedisOnlineStore",
    "rediss": "feature_pipelines.online.redis_store:RedisOnlineStore",
    "unix": "feature_pipelines.online.redis_store:RedisOnlineStore",
}


def store_class(url: str) -> type[OnlineStore]:
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    try:
        module, _, name = STORES[scheme].partition(":")
    except KeyError:
        known = ", ".join(f"{s}://" for s in STORES)
        raise ValueError(f"no online store for {url!r}: the URL must start with one of {known}") from None
    return cast(type[OnlineStore], getattr(importlib.import_module(module), name))


def open_store(url: str, views: Mapping[str, AnyView] | None = None) -> OnlineStore:
    """The online store ``url`` names (``views`` defaults to the repository's)."""
    cls = store_class(url)
    return cls.from_url(url, views)

"""The URL scheme picks the online store."""

from __future__ import annotations

import pytest

from feature_pipelines.online.memory import InMemoryOnlineStore
from feature_pipelines.online.redis_store import RedisOnlineStore, RedisUnavailable, redacted
from feature_pipelines.online.registry import open_store
from feature_pipelines.repository import merchant_txn_stats


def test_memory_scheme_gives_the_in_memory_store() -> None:
    store = open_store("memory://", {"merchant_txn_stats": merchant_txn_stats})
    assert isinstance(store, InMemoryOnlineStore)
    assert list(store.views) == ["merchant_txn_stats"]


def test_redis_scheme_gives_the_redis_store_without_connecting() -> None:
    with open_store("redis://127.0.0.1:1/3") as store:
        assert isinstance(store, RedisOnlineStore)
        assert repr(store) == "RedisOnlineStore('redis://127.0.0.1:1/3')"


def test_unknown_schemes_list_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"must start with one of memory://, redis://"):
        open_store("rocksdb:///tmp/x")
    with pytest.raises(ValueError, match="must start with"):
        open_store("localhost:6379")


def test_passwords_stay_out_of_messages() -> None:
    assert redacted("redis://user:s3cret@db:6379/0") == "redis://user:***@db:6379/0"
    assert redacted("redis://:s3cret@db:6379/0") == "redis://:***@db:6379/0"
    assert redacted("redis://db:6379/0") == "redis://db:6379/0"
    assert "s3cret" not in str(RedisUnavailable("redis://:s3cret@db:6379/0", "refused"))

"""The join's store: a mapping in memory, written back to its backing table a bucket at a time."""

from __future__ import annotations

import random

import pytest

from stream_jobs.drift.bucketed import BucketedStore


class CountingTable(dict[str, object]):
    """A backing mapping that counts writes, as a changelog would get records."""

    writes = 0

    def __setitem__(self, key: str, value: object) -> None:
        self.writes += 1
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.writes += 1
        super().__delitem__(key)


def test_it_behaves_as_a_dict_under_random_changes_and_reloads_what_it_flushed() -> None:
    rng = random.Random(7)
    table, model = CountingTable(), {}
    store = BucketedStore(table, buckets=8)
    for step in range(5000):
        key = f"e{rng.randrange(300)}"
        if key in model and rng.random() < 0.5:
            del store[key]
            del model[key]
        else:
            store[key] = model[key] = ["p", step]
        if step % 97 == 0:
            store.flush()
            assert dict(BucketedStore.load(table, buckets=8).items()) == model
    assert dict(store.items()) == model and len(store) == len(model)
    assert store.get("absent") is None
    with pytest.raises(KeyError):
        del store["absent"]


def test_a_flush_writes_each_changed_bucket_once_however_many_changes() -> None:
    table = CountingTable()
    store = BucketedStore(table, buckets=4)
    for i in range(1000):
        store[f"e{i}"] = [i]
    for i in range(500):
        del store[f"e{i}"]
    assert table.writes == 0
    assert store.flush() == 4 and table.writes == 4
    assert store.flush() == 0 and table.writes == 4
    for i in range(500, 1000):
        del store[f"e{i}"]
    store.flush()
    assert table == {} and len(BucketedStore.load(table, buckets=4)) == 0

"""The Redis online store on a real Redis: round trips, TTLs, newer-wins under any order, clear errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from feature_pipelines.definitions import FeatureView
from feature_pipelines.online.layout import encode_row, layout_of
from feature_pipelines.online.memory import InMemoryOnlineStore
from feature_pipelines.online.redis_store import RedisOnlineStore, RedisUnavailable
from feature_pipelines.online.store import OnlineStore
from feature_pipelines.repository import customer_txn_stats, merchant_txn_stats
from rtml.settings import Settings
from rtml.stack.ports import free_port
from schemas.feature_row import FeatureRow

MINUTE_MS = 60_000


@pytest.fixture(scope="module")
def redis_store(settings: Settings) -> Iterator[RedisOnlineStore]:
    with RedisOnlineStore(settings.redis) as store:
        yield store


def tag() -> str:
    return uuid.uuid4().hex[:10]


def full_row(view: FeatureView, entity: str, window_end: int, seed: float) -> FeatureRow:
    values = {name: seed + i for i, name in enumerate(view.feature_names)}
    return FeatureRow(view.name, entity, window_end - view.slide_ms, window_end, values)  # type: ignore[arg-type]


@pytest.mark.parametrize("view", [customer_txn_stats, merchant_txn_stats], ids=lambda v: v.name)
def test_rows_round_trip_through_redis(redis_store: RedisOnlineStore, view: FeatureView) -> None:
    t = tag()
    rows = [full_row(view, f"{t}-{i}", 1_700_000_000_000 + i * MINUTE_MS, seed=10.0 * i) for i in range(20)]
    rows[3].values[view.feature_names[1]] = None
    assert redis_store.write(view, rows) == 20
    ids = [f"{t}-{i}" for i in (5, 404, 3, 0)]
    got = redis_store.get(view.name, ids)
    assert got.found.tolist() == [True, False, True, True]
    assert got.window_end.tolist() == [rows[5].window_end, 0, rows[3].window_end, rows[0].window_end]
    assert got.values[0].tolist() == [50.0 + i for i in range(len(view.feature_names))]
    assert np.isnan(got.values[1]).all() and np.isnan(got.values[2, 1]) and got.values[2, 0] == 30.0
    # The stored bytes are exactly the layout's.
    assert redis_store.client.get(layout_of(view).key(f"{t}-7")) == encode_row(view, rows[7])


def test_reads_sent_ahead_are_taken_in_any_order_beside_other_commands(redis_store: RedisOnlineStore) -> None:
    t = tag()
    customers = [full_row(customer_txn_stats, f"{t}-c{i}", 1_700_000_000_000, 10.0 * i) for i in range(3)]
    merchants = [full_row(merchant_txn_stats, f"{t}-m{i}", 1_700_000_000_000, 5.0 * i) for i in range(2)]
    redis_store.write(customer_txn_stats, customers)
    redis_store.write(merchant_txn_stats, merchants)
    first = redis_store.read_many([(customer_txn_stats, [f"{t}-c2", f"{t}-none"]), (merchant_txn_stats, [f"{t}-m1"])])
    second = redis_store.read_many([(customer_txn_stats, [f"{t}-c0"])])
    assert redis_store.get(merchant_txn_stats, [f"{t}-m0"]).found.tolist() == [True]  # meanwhile, on the same store
    (c0,) = second.result()
    c, m = first.result()
    assert c0.values[0, 0] == 0.0 and c.values[0, 0] == 20.0 and m.values[0, 0] == 5.0
    assert c.found.tolist() == [True, False] and m.found.tolist() == [True]
    assert first.result() is first.result()  # taken once
    assert (
        redis_store.get_many([]) == [] and redis_store.read_many([(customer_txn_stats, [])]).result()[0].found.size == 0
    )


def test_a_read_sent_ahead_says_what_to_do_when_redis_goes_away(settings: Settings) -> None:
    store = RedisOnlineStore(f"redis://127.0.0.1:{free_port()}/0", timeout_s=1.0)
    with pytest.raises(RedisUnavailable, match="run `rtml up --only redis`"):
        store.read_many([(customer_txn_stats, ["c1"])])


def test_keys_expire_after_the_views_ttl(redis_store: RedisOnlineStore) -> None:
    entity = tag()
    redis_store.write(customer_txn_stats, [full_row(customer_txn_stats, entity, 1_700_000_000_000, 1.0)])
    pttl = redis_store.pttl_ms(layout_of(customer_txn_stats).key(entity))
    assert pttl is not None and 0 < pttl <= customer_txn_stats.ttl.total_seconds() * 1000


def test_batches_larger_than_a_script_call_are_chunked(settings: Settings) -> None:
    t = tag()
    rows = [full_row(merchant_txn_stats, f"{t}-{i}", 1_700_000_000_000, float(i)) for i in range(1_234)]
    with RedisOnlineStore(settings.redis, chunk_rows=100) as store:
        assert store.write(merchant_txn_stats, rows) == 1_234
        assert store.write(merchant_txn_stats, rows) == 0  # a replay changes nothing
        got = store.get(merchant_txn_stats, [r.entity_id for r in rows])
    assert got.found.all() and got.values[:, 0].tolist() == [float(i) for i in range(1_234)]


def test_the_script_is_loaded_again_after_a_script_flush(redis_store: RedisOnlineStore) -> None:
    entity = tag()
    redis_store.client.script_flush()
    assert redis_store.write(merchant_txn_stats, [full_row(merchant_txn_stats, entity, 1_700_000_000_000, 2.0)]) == 1
    assert redis_store.get(merchant_txn_stats, [entity]).found.tolist() == [True]


@st.composite
def shuffled_batches(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[list[tuple[int, int]]]]:
    """(entity, window_end) pairs, each once at least, some repeated, in any order, cut into batches."""
    distinct = [
        (entity, end * MINUTE_MS)
        for entity in range(draw(st.integers(1, 4)))
        for end in draw(st.sets(st.integers(1, 50_000), min_size=1, max_size=5))
    ]
    repeats = draw(st.lists(st.sampled_from(distinct), max_size=10))
    ordered = draw(st.permutations(distinct + repeats))
    cuts = sorted(draw(st.sets(st.integers(0, len(ordered)), max_size=4)))
    bounds = [0, *cuts, len(ordered)]
    return distinct, [ordered[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


@pytest.fixture(scope="module", params=["redis", "memory"])
def any_store(request: pytest.FixtureRequest, settings: Settings) -> Iterator[OnlineStore]:
    if request.param == "memory":
        yield InMemoryOnlineStore()
        return
    with RedisOnlineStore(settings.redis, chunk_rows=3) as store:  # small chunks: several script calls per batch
        yield store


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=shuffled_batches())
def test_the_store_holds_each_entitys_greatest_window_end_whatever_the_order(
    any_store: OnlineStore, case: tuple[list[tuple[int, int]], list[list[tuple[int, int]]]]
) -> None:
    distinct, batches = case
    t = tag()  # fresh entities per example: the Redis is shared

    def make(entity: int, end: int) -> FeatureRow:
        return full_row(customer_txn_stats, f"{t}-{entity}", end, seed=end / MINUTE_MS)

    applied = sum(any_store.write(customer_txn_stats, [make(*pair) for pair in batch]) for batch in batches)
    newest: dict[int, int] = {}
    for entity, end in distinct:
        newest[entity] = max(end, newest.get(entity, 0))
    entities = sorted(newest)
    got = any_store.get(customer_txn_stats, [f"{t}-{e}" for e in entities])
    assert got.window_end.tolist() == [newest[e] for e in entities]
    expected = np.array([list(make(e, newest[e]).values.values()) for e in entities], dtype=np.float64)
    assert np.array_equal(got.values, expected)
    assert len(entities) <= applied <= len(distinct)  # each distinct row applies at most once


def test_an_unreachable_redis_says_what_to_do() -> None:
    port = free_port()
    store = RedisOnlineStore(f"redis://127.0.0.1:{port}/0", timeout_s=1.0)
    expected = (
        rf"cannot reach Redis at redis://127\.0\.0\.1:{port}/0 \(.*\): "
        r"run `rtml up --only redis` or set RTML_REDIS_URL"
    )
    with pytest.raises(RedisUnavailable, match=expected):
        store.get(customer_txn_stats, ["c1"])
    with pytest.raises(RedisUnavailable, match=expected):
        store.write(customer_txn_stats, [full_row(customer_txn_stats, "c1", 1_700_000_000_000, 1.0)])
    with pytest.raises(RedisUnavailable, match=expected):
        store.check()

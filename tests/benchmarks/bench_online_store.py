"""Online store reads and writes against a local Redis (AOF, fsync every second, as `rtml up` runs it).

Reads: ``RedisOnlineStore.get`` (one MGET of packed vectors, one ``numpy.frombuffer``) for 1, 16 and 256
entities of customer_txn_stats (15 features), p50/p99 over many calls, beside the layout the issue
measured as its baseline: a hash per entity, a pipelined HMGET per entity, values decoded in Python.
Writes: rows/s of ``RedisOnlineStore.write`` (Lua newer-wins, 500 keys per script call, pipelined) in
batches, of a replay (every row stale), and of the full path from FeatureRow JSON through the
materializer's ``process``. Prints figures; never asserts on timing. Run: scripts/bench -k online_store
(``RTML_BENCH_READS``, ``RTML_BENCH_ROWS`` change the sizes). redis-py parses replies in Python unless
the ``hiredis`` package is installed; the header line says which parser ran.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import redis
from redis.utils import HIREDIS_AVAILABLE

from feature_pipelines.online.layout import layout_of
from feature_pipelines.online.materializer import OnlineMaterializer
from feature_pipelines.online.redis_store import RedisOnlineStore
from feature_pipelines.repository import customer_txn_stats
from rtml.kafka.consumer import Received
from rtml.settings import Settings
from schemas.feature_row import FeatureRow
from schemas.registry import codec_for
from tests.support.services import isolated_settings, running_stack

VIEW = customer_txn_stats
NAMES = VIEW.feature_names
ENTITIES = 20_000
READS = int(os.environ.get("RTML_BENCH_READS", "2000"))
ROWS = int(os.environ.get("RTML_BENCH_ROWS", "200000"))
SIZES = (1, 16, 256)
BASE_END = 1_700_000_000_000


@pytest.fixture(scope="module")
def redis_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = isolated_settings(tmp_path_factory.mktemp("bench-redis"))
    with running_stack(settings, ["redis"]):
        yield settings


def rows(n: int, window_end: int, entities: int = ENTITIES) -> list[FeatureRow]:
    rng = random.Random(window_end)
    return [
        FeatureRow(
            VIEW.name,
            f"c{i % entities:06d}",
            window_end - 60_000,
            window_end,
            {
                name: (rng.randrange(50) if name.startswith(("count", "distinct")) else rng.random() * 500)
                for name in NAMES
            },
        )
        for i in range(n)
    ]


def percentiles(call: Callable[[list[str]], object], requests: list[list[str]]) -> tuple[float, float, float]:
    for ids in requests[:50]:  # warm up connections and caches
        call(ids)
    times = []
    for ids in requests:
        start = time.perf_counter_ns()
        call(ids)
        times.append((time.perf_counter_ns() - start) / 1e6)
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99)], statistics.fmean(times)


def hash_layout_reader(store: RedisOnlineStore) -> Callable[[list[str]], np.ndarray]:
    """The baseline: HMGET per entity in one pipeline, floats parsed in Python."""
    client = store.client
    nan = float("nan")

    def read(ids: list[str]) -> np.ndarray:
        pipe = client.pipeline(transaction=False)
        for entity in ids:
            pipe.hmget(f"bench:h:{entity}", NAMES)
        replies = pipe.execute()
        return np.array([[nan if v is None else float(v) for v in reply] for reply in replies], dtype=np.float64)

    return read


@pytest.mark.benchmark
def test_online_store_read_latency_and_write_throughput(redis_settings: Settings) -> None:
    store = RedisOnlineStore(redis_settings.redis)
    store.check()
    seed_rows = rows(ENTITIES, BASE_END)
    store.write(VIEW, seed_rows)
    pipe = store.client.pipeline(transaction=False)
    for row in seed_rows:
        pipe.hset(f"bench:h:{row.entity_id}", mapping={k: repr(float(v)) for k, v in row.values.items()})  # type: ignore[arg-type]
    pipe.execute()

    rng = random.Random(7)
    print(
        f"\nonline store on a local Redis (AOF everysec); {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}; redis-py {redis.__version__}, hiredis parser: {HIREDIS_AVAILABLE}; "
        f"{ENTITIES:,} entities x {len(NAMES)} features"
    )
    print(f"reads: {READS:,} calls per size, ms per call")
    hash_read = hash_layout_reader(store)
    check = rng.sample([r.entity_id for r in seed_rows], 256)
    packed = store.get(VIEW, check).values
    assert np.array_equal(packed, hash_read(check))  # both layouts hold the same numbers
    for size in SIZES:
        requests = [[f"c{rng.randrange(ENTITIES):06d}" for _ in range(size)] for _ in range(READS)]
        ours = percentiles(lambda ids: store.get(VIEW, ids), requests)
        base = percentiles(hash_read, requests)
        print(
            f"  {size:>3} entities  packed MGET  p50 {ours[0]:6.3f}  p99 {ours[1]:6.3f}  mean {ours[2]:6.3f}"
            f"   | HMGET per entity  p50 {base[0]:6.3f}  p99 {base[1]:6.3f}  mean {base[2]:6.3f}"
            f"   | p50 x{base[0] / ours[0]:.1f}"
        )

    print(f"writes: {ROWS:,} rows of distinct entities per run, each run one window later than the last")
    end = BASE_END
    for batch in (500, 2_000, 10_000):
        end += 60_000
        data = rows(ROWS, end, entities=ROWS)  # distinct entities: every row applies
        server_before = script_usec(store)
        applied, seconds = timed_writes(store, data, batch)
        server_s = (script_usec(store) - server_before) / 1e6
        replay, replay_s = timed_writes(store, data, batch)
        assert applied == ROWS and replay == 0
        print(
            f"  write, batches of {batch:>6,}  {ROWS / seconds:>10,.0f} rows/s applied"
            f" ({server_s / ROWS * 1e6:.1f} us/row in the script)"
            f"   {ROWS / replay_s:>10,.0f} rows/s replayed (all stale)"
        )
    layout = layout_of(VIEW)
    start = time.perf_counter()
    for row in data:
        layout.encode(row)
    print(f"  for scale: packing alone (no Redis)          {ROWS / (time.perf_counter() - start):>10,.0f} rows/s")

    end += 60_000
    codec = codec_for(VIEW.topic)
    payloads = [codec.encode(row) for row in rows(ROWS, end, entities=ROWS)]
    materializer = OnlineMaterializer(redis_settings, [VIEW], store, component="bench")
    start = time.perf_counter()
    for i in range(0, ROWS, 2_000):
        batch = [codec.decode(p) for p in payloads[i : i + 2_000]]
        store.write(VIEW, batch)
    decode_write = time.perf_counter() - start
    end += 60_000
    payloads = [codec.encode(row) for row in rows(ROWS, end, entities=ROWS)]
    start = time.perf_counter()
    for i in range(0, ROWS, 2_000):
        received = [Received(VIEW.topic, 0, 0, None, codec.decode(p), 0) for p in payloads[i : i + 2_000]]
        materializer.process(received)
    full = time.perf_counter() - start
    assert materializer.totals.applied == ROWS
    print(f"  JSON decode + write (batches of 2,000)       {ROWS / decode_write:>10,.0f} rows/s")
    print(f"  JSON decode + materializer.process          {ROWS / full:>10,.0f} rows/s  (grouping, metrics, freshness)")

    start = time.perf_counter()
    for p in payloads:
        codec.decode(p)
    print(f"  for scale: JSON decode alone                {ROWS / (time.perf_counter() - start):>10,.0f} rows/s")
    store.close()


def timed_writes(store: RedisOnlineStore, data: list[FeatureRow], batch: int) -> tuple[int, float]:
    applied = 0
    start = time.perf_counter()
    for i in range(0, len(data), batch):
        applied += store.write(VIEW, data[i : i + batch])
    return applied, time.perf_counter() - start


def script_usec(store: RedisOnlineStore) -> int:
    """Microseconds Redis spent in EVALSHA so far (the newer-wins script, commands inside included)."""
    stats = store.client.info("commandstats").get("cmdstat_evalsha", {})
    return int(stats.get("usec", 0))

"""Feature freshness of the live pipeline: from an event's production to the first row in Redis that counts it,
through the feature job (HOP windows, watermark delay, exactly-once sinks committed at each checkpoint) and the
online materializer (read_committed).

Transactions are produced at a steady pace with ``ts`` = the wall clock at production, for customers whose
``customer_txn_stats`` rows a reader polls in Redis every ``POLL_S``. An event at ``t`` is counted by the first
window that ends after it, so its latency is the first time a row with ``window_end > t`` is seen, minus ``t``.
Issue 3's aim for it: slide + watermark delay + 2 s. Also printed: window end -> row seen (the part the pipeline
adds after a window closes; aim watermark delay + 2 s). Prints figures; never asserts on timing.
Run: scripts/bench -k freshness   (RTML_BENCH_FRESHNESS_S: seconds of measured traffic, default 150)
"""

from __future__ import annotations

import bisect
import os
import statistics
import threading
import time

import pytest

from feature_pipelines.online.redis_store import RedisOnlineStore
from feature_pipelines.repository import FEATURE_VIEWS, customer_txn_stats
from rtml.kafka.clients import admin_client
from rtml.kafka.producer import RecordProducer
from rtml.topics import create_topics, topic_specs
from schemas.registry import codec_for
from schemas.transaction import Transaction
from tests.support.cdc import running_pipelines
from tests.support.services import isolated_settings, running_stack

SECONDS = float(os.environ.get("RTML_BENCH_FRESHNESS_S", "150"))
RATE = 200  # events/s
CUSTOMERS = 200
POLL_S = 0.1
VIEW = customer_txn_stats


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@pytest.mark.benchmark
def test_event_to_redis_freshness(tmp_path_factory: pytest.TempPathFactory) -> None:
    settings = isolated_settings(tmp_path_factory.mktemp("bench-freshness"))
    ids = [f"fresh-c{i:04d}" for i in range(CUSTOMERS)]
    seen: dict[str, dict[int, float]] = {c: {} for c in ids}  # customer -> window_end -> first seen (ms)
    events: list[tuple[str, int]] = []  # (customer, ts ms)
    slide_ms = VIEW.windows[0].slide_ms
    delay_s = VIEW.source.watermark_delay.total_seconds()
    with running_stack(settings, ["kafka", "redis"]):
        create_topics(admin_client(settings), topic_specs(settings))
        with running_pipelines(settings, ["features", "online"]):
            store = RedisOnlineStore.from_url(settings.redis, FEATURE_VIEWS)
            done = threading.Event()

            def poll() -> None:
                while not done.is_set():
                    got = store.get(VIEW, ids)
                    now_ms = time.time() * 1000
                    for i, customer in enumerate(ids):
                        if got.found[i]:
                            seen[customer].setdefault(int(got.window_end[i]), now_ms)
                    time.sleep(POLL_S)

            reader = threading.Thread(target=poll, daemon=True)
            reader.start()
            producer = RecordProducer(settings, component="bench")
            codec = codec_for("events.transactions")
            # measured traffic, then one slide + the delay + 10 s more so the last measured windows close
            total_s = SECONDS + slide_ms / 1000 + delay_s + 10
            started, n = time.time(), 0
            try:
                while time.time() - started < total_s:
                    ts = int(time.time() * 1000)
                    customer = ids[n % CUSTOMERS]
                    record = Transaction(
                        event_id=f"fresh-{n}", ts=ts, customer_id=customer, merchant_id=f"m{n % 50:03d}",
                        merchant_category="grocery", amount=10.0 + n % 90, currency="EUR", country="DE",
                        device_id=f"d{n % CUSTOMERS:04d}", channel="pos",
                    )  # fmt: skip
                    producer.send_raw("events.transactions", customer, codec.encode(record))
                    if time.time() - started < SECONDS:
                        events.append((customer, ts))
                    n += 1
                    time.sleep(max(0.0, started + n / RATE - time.time()))
                producer.flush(30)
                time.sleep(2 * POLL_S + 1)
            finally:
                done.set()
                reader.join(10)
                store.close()
    latencies, after_close = [], []
    for customer, ts in events:
        ends = sorted(seen[customer])
        at = bisect.bisect_right(ends, ts)
        if at < len(ends):
            latencies.append(seen[customer][ends[at]] - ts)
    for rows in seen.values():
        after_close += [first - end for end, first in rows.items()]
    assert latencies, "no row counted any measured event"
    print(
        f"\nfreshness, {VIEW.name} (slide {slide_ms / 1000:.0f} s, watermark delay {delay_s:.0f} s, checkpoints every "
        f"{settings.flink_checkpoint_interval_s:.0f} s), {len(events):,} events at {RATE}/s over {SECONDS:.0f} s, "
        f"Redis polled every {POLL_S * 1000:.0f} ms:\n"
        f"  event produced -> first row counting it in Redis: p50 {statistics.median(latencies) / 1000:.1f} s, "
        f"p99 {_quantile(latencies, 0.99) / 1000:.1f} s, max {max(latencies) / 1000:.1f} s "
        f"({len(latencies):,} of {len(events):,} events; aim: slide + delay + 2 s = "
        f"{slide_ms / 1000 + delay_s + 2:.0f} s)\n"
        f"  window end -> row seen: p50 {statistics.median(after_close) / 1000:.1f} s, "
        f"p99 {_quantile(after_close, 0.99) / 1000:.1f} s, max {max(after_close) / 1000:.1f} s "
        f"({len(after_close):,} rows; aim: delay + 2 s = {delay_s + 2:.0f} s)"
    )

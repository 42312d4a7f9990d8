from __future__ import annotations

import pytest

from schemas.errors import SchemaError
from schemas.registry import codec_for
from serving.batching import BatchPolicy, collect, split_batch
from tests.unit.serving.conftest import message, transaction

decode = codec_for("events.transactions").decode


def test_policy_checks_its_bounds() -> None:
    assert BatchPolicy(500, 20).max_wait_s == 0.02
    with pytest.raises(ValueError, match="at least 1 record"):
        BatchPolicy(0, 10)
    with pytest.raises(ValueError, match="max_wait_ms"):
        BatchPolicy(10, -1)
    with pytest.raises(ValueError, match="linger_ms"):
        BatchPolicy(10, 5, -1)


class Queue:
    """A consumer's local queue: ``arrivals[t]`` records become available at clock ``t`` (seconds).
    ``consume(n, timeout)`` advances the clock while it waits, as librdkafka's does."""

    def __init__(self, arrivals: dict[float, int]) -> None:
        self.arrivals = sorted(arrivals.items())
        self.now = 0.0
        self.next = 0
        self.calls: list[tuple[int, float]] = []

    def clock(self) -> float:
        return self.now

    def _ready(self) -> int:
        return sum(k for t, k in self.arrivals if t <= self.now) - self.next

    def consume(self, n: int, timeout: float) -> list[int]:
        """Returns once ``n`` records are ready or ``timeout`` passed, with up to ``n`` of them."""
        self.calls.append((n, timeout))
        end = self.now + timeout
        while self._ready() < n and any(self.now < t <= end for t, _ in self.arrivals):
            self.now = min(t for t, _ in self.arrivals if t > self.now)
        if self._ready() < n:
            self.now = end
        take = min(n, self._ready())
        out = list(range(self.next, self.next + take))
        self.next += take
        return out


def test_a_lone_record_is_a_batch_at_once_instead_of_waiting_for_the_batch_to_fill() -> None:
    queue = Queue({0.5: 1, 0.9: 1})
    batch = collect(queue.consume, BatchPolicy(256, 10), idle_s=1.0, clock=queue.clock)
    assert batch == [0]
    assert queue.now == 0.5  # no wait after the first record: nothing else was queued


def test_a_batch_takes_everything_queued_up_to_max_records() -> None:
    queue = Queue({0.0: 300})
    assert collect(queue.consume, BatchPolicy(256, 10), idle_s=1.0, clock=queue.clock) == list(range(256))
    assert collect(queue.consume, BatchPolicy(256, 10), idle_s=1.0, clock=queue.clock) == list(range(256, 300))


def test_nothing_within_the_idle_wait_is_an_empty_batch() -> None:
    queue = Queue({5.0: 3})
    assert collect(queue.consume, BatchPolicy(256, 10), idle_s=0.1, clock=queue.clock) == []
    assert queue.now == pytest.approx(0.1)


def test_linger_waits_for_stragglers_but_never_past_max_wait() -> None:
    queue = Queue({0.0: 1, 0.002: 1, 0.004: 1, 0.030: 1})
    batch = collect(queue.consume, BatchPolicy(256, 10, linger_ms=3), idle_s=1.0, clock=queue.clock)
    assert batch == [0, 1, 2]  # the record at 30 ms is past max_wait (10 ms after the first)
    assert queue.now <= 0.010 + 1e-9
    no_linger = Queue({0.0: 1, 0.002: 1})
    assert collect(no_linger.consume, BatchPolicy(256, 10), idle_s=1.0, clock=no_linger.clock) == [0]


def test_split_decodes_in_order_and_sets_bad_records_aside_with_their_bytes() -> None:
    messages = [
        message(transaction(1), 10, partition=0),
        message(b'{"type":"transaction","event_id":"x"}', 11, partition=0),
        message(transaction(2), 7, partition=1),
        message(transaction(3), 12, partition=0),
    ]
    batch = split_batch(messages, decode)
    assert [e.record.event_id for e in batch.events] == ["e1", "e2", "e3"]
    assert [(e.partition, e.offset) for e in batch.events] == [(0, 10), (1, 7), (0, 12)]
    assert batch.events[0].key == b"c1" and batch.events[0].value == messages[0].value()
    (bad,) = batch.rejected
    assert (bad.offset, bad.value) == (11, b'{"type":"transaction","event_id":"x"}')
    assert isinstance(bad.error, SchemaError) and bad.error.rule == "required"
    assert batch.next_offsets == {("events.transactions", 0): 13, ("events.transactions", 1): 8}
    assert batch.first_offsets == {("events.transactions", 0): 10, ("events.transactions", 1): 7}
    assert len(batch) == 4


def test_reject_moves_events_after_decoding() -> None:
    batch = split_batch([message(transaction(i), i) for i in range(4)], decode)
    batch.reject({1: ValueError("no"), 3: ValueError("nope")})
    assert [e.offset for e in batch.events] == [0, 2]
    assert [(r.offset, str(r.error)) for r in batch.rejected] == [(1, "no"), (3, "nope")]
    assert batch.next_offsets[("events.transactions", 0)] == 4  # rejected records are still consumed
    batch.reject({})
    assert len(batch) == 4


def test_an_empty_poll_is_an_empty_batch() -> None:
    batch = split_batch([], decode)
    assert not len(batch) and batch.next_offsets == {}

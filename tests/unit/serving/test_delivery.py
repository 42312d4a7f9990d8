"""At-least-once delivery without a broker: offsets are committed only after every record of the batch,
and of the batches before it, was acknowledged; a refused record stops the commits."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError

from serving.batching import Rejected
from serving.delivery import AtLeastOnceDelivery, DeliveryFailed


class FakeError:
    def str(self) -> str:
        return "refused"


class FakeMessage:
    def __init__(self, topic: str) -> None:
        self._topic = topic

    def topic(self) -> str:
        return self._topic


class QueueFull:
    def code(self) -> int:
        return KafkaError._QUEUE_FULL


class FakeProducer:
    """Holds delivery callbacks until ``ack`` (or poll/flush with ``auto``) fires them."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, Any]] = []
        self.produced: list[tuple[str, bytes, Any]] = []
        self.auto = False
        self.fail_topics: set[str] = set()
        self.room: int | None = None  # records the local queue takes before it is full

    def produce(self, topic: str, value: bytes, key: Any, headers: Any = None, on_delivery: Any = None) -> None:
        self.produced.append((topic, value, headers))
        self.pending.append((topic, on_delivery))

    def produce_batch(self, topic: str, messages: list[dict[str, Any]], on_delivery: Any = None) -> int:
        """Queues up to ``room`` records (None: all) and marks the rest as librdkafka does."""
        room = len(messages) if self.room is None else self.room
        for m in messages[:room]:
            self.produce(topic, m["value"], m["key"], on_delivery=on_delivery)
        for m in messages[room:]:
            m["_error"] = QueueFull()
        self.room = None if self.room is None else self.room - min(room, len(messages))
        return min(room, len(messages))

    def ack(self, n: int | None = None) -> None:
        n = len(self.pending) if n is None else n
        fired, self.pending = self.pending[:n], self.pending[n:]
        for topic, callback in fired:
            callback(FakeError() if topic in self.fail_topics else None, FakeMessage(topic))

    def poll(self, timeout: float = 0) -> int:
        if self.auto:
            self.ack()
        if self.room is not None:  # serving delivery reports frees the queue
            self.room += 1
        return 0

    def flush(self, timeout: float = 0) -> int:
        self.ack()
        return 0


class FakeConsumer:
    def __init__(self) -> None:
        self.commits: list[tuple[dict[tuple[str, int], int], bool]] = []

    def commit(self, offsets: list[Any], asynchronous: bool = True) -> None:
        self.commits.append(({(tp.topic, tp.partition): tp.offset for tp in offsets}, asynchronous))


def delivery(
    max_in_flight: int = 4, commit_interval_s: float = 0.0, clock: Any = None
) -> tuple[AtLeastOnceDelivery, FakeProducer, FakeConsumer]:
    producer, consumer = FakeProducer(), FakeConsumer()
    extra = {"clock": clock} if clock is not None else {}
    d = AtLeastOnceDelivery(producer, consumer, "scorer-test", max_in_flight, commit_interval_s, **extra)  # type: ignore[arg-type]
    return d, producer, consumer


def test_offsets_are_committed_once_the_batch_and_those_before_it_are_acknowledged() -> None:
    d, producer, consumer = delivery()
    durable: list[str] = []
    d.begin()
    d.produce("p", "k", b"1")
    d.produce("p", "k", b"2")
    d.commit({("e", 0): 10}, lambda: durable.append("b1"))
    d.begin()
    d.produce("p", "k", b"3")
    d.commit({("e", 0): 11, ("e", 1): 4}, lambda: durable.append("b2"))
    assert consumer.commits == [] and durable == []
    producer.ack(1)  # one record of batch 1, none of batch 2
    d.poll()
    assert consumer.commits == []
    producer.pending = producer.pending[1:] + producer.pending[:1]  # batch 2 acknowledged before batch 1's last
    producer.ack(1)
    d.poll()
    assert consumer.commits == [] and durable == []  # batch 2 waits for batch 1
    producer.ack()
    d.poll()
    assert consumer.commits == [({("e", 0): 11, ("e", 1): 4}, True)] and durable == ["b1", "b2"]
    d.close()
    assert consumer.commits[-1] == ({("e", 0): 11, ("e", 1): 4}, False)  # a synchronous commit on close


def test_a_refused_record_stops_the_commits() -> None:
    d, producer, consumer = delivery()
    producer.fail_topics = {"dlq.e"}
    d.begin()
    d.produce("p", "k", b"1")
    d.dead_letter(Rejected(b"k", b"bad", "e", 0, 3, ValueError("no")))
    assert producer.produced[-1][0] == "dlq.e" and dict(producer.produced[-1][2])["rtml.component"] == b"scorer-test"
    d.commit({("e", 0): 4})
    producer.ack()
    with pytest.raises(DeliveryFailed, match="refused"):
        d.poll()
    assert consumer.commits == []


def test_the_pipeline_is_bounded() -> None:
    d, producer, consumer = delivery(max_in_flight=2)
    for i in range(2):
        d.begin()
        d.produce("p", "k", b"x")
        d.commit({("e", 0): i + 1})
    assert consumer.commits == []
    producer.auto = True  # the third batch must wait for acknowledgements before returning
    d.begin()
    d.produce("p", "k", b"x")
    d.commit({("e", 0): 3})
    assert consumer.commits and consumer.commits[-1][0] == {("e", 0): 3}


def test_a_batch_handed_over_at_once_waits_out_a_full_queue_and_counts_every_record() -> None:
    d, producer, consumer = delivery()
    producer.room = 2
    d.begin()
    d.produce_many("p", [(f"k{i}", f"{i}".encode()) for i in range(5)])
    assert [value for _, value, _ in producer.produced] == [b"0", b"1", b"2", b"3", b"4"]  # once each, in order
    d.commit({("e", 0): 5})
    producer.ack(4)
    d.poll()
    assert consumer.commits == []  # one record of the batch is not acknowledged yet
    producer.ack()
    d.poll()
    assert consumer.commits == [({("e", 0): 5}, True)]


def test_acknowledged_offsets_are_committed_at_most_once_per_interval_and_all_on_close() -> None:
    now = [0.0]
    d, producer, consumer = delivery(commit_interval_s=0.1, clock=lambda: now[0])
    producer.auto = True
    for i in range(3):
        d.begin()
        d.produce_many("p", [("k", b"x")])
        d.commit({("e", 0): i + 1})
        now[0] += 0.04
    assert consumer.commits == [({("e", 0): 1}, True)]  # the first at once, the next two within 0.1 s of it
    now[0] += 0.1
    d.poll()
    assert consumer.commits[-1] == ({("e", 0): 3}, True)
    d.begin()
    d.produce_many("p", [("k", b"x")])
    d.commit({("e", 1): 7})
    d.close()
    assert consumer.commits[-1] == ({("e", 0): 3, ("e", 1): 7}, False)

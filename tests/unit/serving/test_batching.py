from __future__ import annotations

import pytest

from schemas.errors import SchemaError
from schemas.registry import codec_for
from serving.batching import BatchPolicy, split_batch
from tests.unit.serving.conftest import message, transaction

decode = codec_for("events.transactions").decode


def test_policy_checks_its_bounds() -> None:
    assert BatchPolicy(500, 20).max_wait_s == 0.02
    with pytest.raises(ValueError, match="at least 1 record"):
        BatchPolicy(0, 10)
    with pytest.raises(ValueError, match="max_wait_ms"):
        BatchPolicy(10, -1)


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

"""The scorer's loop with in-process Kafka and store stand-ins: what is produced, dead-lettered and
committed per batch, when models swap, and how an aborted batch is read again."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import pytest
from confluent_kafka import TopicPartition

from feature_pipelines.online.memory import InMemoryOnlineStore
from feature_pipelines.repository import get_service
from schemas.model_update import ModelUpdate
from schemas.registry import codec_for
from serving.batching import BatchPolicy, Partition, Rejected
from serving.config import ScorerConfig
from serving.delivery import BatchAborted
from serving.model_slot import LoadedModel, ModelSlot, ModelSource
from serving.runtime import RuntimeConfig
from serving.scorer import BatchReport, Scorer
from serving.testing import ConstantRuntime
from tests.unit.serving.conftest import FakeMessage, message, transaction

SERVICE = get_service("fraud")
PREDICTIONS = codec_for("predictions.fraud")
TOPIC = "events.transactions"


class FakeConsumer:
    """Serves ``polls`` one per batch; a seek re-serves the rewound records next; once none are left, a
    consume that would wait sets ``stop``. ``revoke`` (poll index -> partitions) moves partitions away
    before that poll is served, as a rebalance inside ``consume`` does."""

    def __init__(self, polls: list[list[FakeMessage]], stop: threading.Event) -> None:
        self.polls = polls
        self.stop = stop
        self.revoke: dict[int, list[int]] = {}
        self.on_revoke: Any = None
        self.served = 0
        self.seen: list[FakeMessage] = []
        self.seeks: list[tuple[str, int, int]] = []
        self.rewound: list[FakeMessage] = []
        self.subscribed: list[str] = []
        self.closed = False

    def subscribe(self, topics: list[str], on_revoke: Any = None) -> None:
        self.subscribed = topics
        self.on_revoke = on_revoke

    def consume(self, n: int, timeout: float) -> list[FakeMessage]:
        if n > 1:  # the scorer drains the local queue after a batch's first record: a poll is one batch
            return []
        if self.rewound:
            batch, self.rewound = self.rewound, []
            return batch
        if not self.polls:
            if timeout > 0:
                self.stop.set()
            return []
        if self.served in self.revoke:
            self.on_revoke(self, [TopicPartition("events.transactions", p) for p in self.revoke[self.served]])
        self.served += 1
        batch = self.polls.pop(0)
        self.seen.extend(batch)
        return batch

    def seek(self, tp: Any) -> None:
        self.seeks.append((tp.topic, tp.partition, tp.offset))
        where = (tp.topic, tp.partition)
        self.rewound.extend(m for m in self.seen if (m.topic(), m.partition()) == where and m.offset() >= tp.offset)

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeDelivery:
    """Records what each batch produced; ``abort_next`` makes the next commit abort (as a fenced txn)."""

    abort_next: int = 0
    open: list[tuple[str, Any]] = field(default_factory=list)
    committed: list[list[tuple[str, Any]]] = field(default_factory=list)
    offsets: list[dict[Partition, int]] = field(default_factory=list)
    closed: bool = False
    durable: int = 0

    def begin(self) -> None:
        assert not self.open

    def produce(self, topic: str, key: Any, value: bytes, headers: Any = None) -> None:
        self.open.append((topic, PREDICTIONS.decode(value)))

    def produce_many(self, topic: str, records: list[tuple[Any, bytes]]) -> None:
        for key, value in records:
            self.produce(topic, key, value)

    def dead_letter(self, rejected: Rejected) -> None:
        self.open.append((f"dlq.{rejected.topic}", rejected))

    def commit(self, offsets: Mapping[Partition, int], on_durable: Any = None) -> None:
        batch, self.open = self.open, []
        if self.abort_next:
            self.abort_next -= 1
            raise BatchAborted("aborted")
        self.committed.append(batch)
        self.offsets.append(dict(offsets))
        self.durable += 1
        on_durable()

    def poll(self) -> None:
        pass

    def drain(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class FakeUpdates:
    def __init__(self) -> None:
        self.pending: list[ModelUpdate] = []

    def poll(self, timeout_s: float = 0.0) -> list[ModelUpdate]:
        out, self.pending = self.pending, []
        return out

    def close(self) -> None:
        pass


def loaded(source: ModelSource) -> LoadedModel:
    score = {"1": 0.2, "2": 0.9, "nan": float("nan"), "own": 0.3}.get(source.version, 0.7)
    own = 0.25 if source.version == "own" else None  # a version that carries its own threshold
    return LoadedModel(source, ConstantRuntime(score, SERVICE.feature_names, threshold=own))


def make_scorer(
    polls: list[list[FakeMessage]], **config: Any
) -> tuple[Scorer, FakeConsumer, FakeDelivery, threading.Event]:
    stop = threading.Event()
    consumer, delivery = FakeConsumer(polls, stop), FakeDelivery()
    settings = ScorerConfig(
        model="fraud",
        events_topic="events.transactions",
        predictions_topic="predictions.fraud",
        updates_topic="models.updates",
        group="g",
        runtime=RuntimeConfig(),
        **{"threshold": None, "policy": BatchPolicy(100, 0), **config},
    )
    champion = ModelSlot("champion", loaded, background=False)
    champion.load_now(ModelSource("fraud", "1", "champion", "-", "-"))
    challenger = None
    if settings.challenger_alias:
        challenger = ModelSlot(settings.challenger_alias, loaded, background=False)
        challenger.load_now(ModelSource("fraud", "c", settings.challenger_alias, "-", "-"))
    scorer = Scorer(
        settings, SERVICE, consumer=consumer, delivery=delivery, store=InMemoryOnlineStore(),  # type: ignore[arg-type]
        champion=champion, challenger=challenger, updates=FakeUpdates(),  # type: ignore[arg-type]
    )  # fmt: skip
    return scorer, consumer, delivery, stop


def test_each_valid_event_gets_one_prediction_bad_ones_go_to_the_dlq_then_offsets_are_committed() -> None:
    polls = [[message(transaction(0), 0), message(b"{not json", 1), message(transaction(2, customer="c9"), 2)]]
    scorer, consumer, delivery, stop = make_scorer(polls)
    totals = scorer.run(stop)
    (batch,) = delivery.committed
    predictions = [v for t, v in batch if t == "predictions.fraud"]
    assert [(p.event_id, p.version, p.score, p.label) for p in predictions] == [
        ("e0", "1", np.float32(0.2), 0),
        ("e2", "1", np.float32(0.2), 0),
    ]
    assert predictions[0].features_missing == [
        "customer_txn_stats",
        "merchant_txn_stats",
        "customer_profile",
        "customer_limit_usage",
    ]
    (dead,) = [v for t, v in batch if t == "dlq.events.transactions"]
    assert dead.offset == 1 and dead.value == b"{not json" and dead.error.rule == "json"
    assert delivery.offsets == [{("events.transactions", 0): 3}]
    assert (totals.batches, totals.predictions, totals.dead_letters) == (1, 2, 1)
    assert consumer.subscribed == ["events.transactions"] and consumer.closed and delivery.closed


def test_a_new_model_scores_from_the_batch_after_the_update_never_inside_one() -> None:
    polls = [[message(transaction(i), i) for i in range(3)], [message(transaction(i), i) for i in range(3, 6)]]
    scorer, _, delivery, stop = make_scorer(polls)
    reports: list[BatchReport] = []

    def after(report: BatchReport) -> None:
        reports.append(report)
        update = ModelUpdate("fraud", "2", "champion", "/m/2.onnx", "a" * 64, 1)
        scorer.updates.pending.append(update)  # type: ignore[union-attr]

    scorer.on_batch = after
    scorer.run(stop)
    versions = [[p.version for _, p in batch] for batch in delivery.committed]
    assert versions == [["1", "1", "1"], ["2", "2", "2"]]
    assert [r.versions for r in reports] == [{"champion": "1"}, {"champion": "2"}]


@pytest.mark.parametrize(("configured", "label"), [(None, 1), (0.5, 0)])
def test_labels_follow_the_versions_own_threshold_unless_one_is_configured(
    configured: float | None, label: int
) -> None:
    polls = [[message(transaction(0), 0)], [message(transaction(1), 1)]]
    scorer, _, delivery, stop = make_scorer(polls, threshold=configured)

    def after(report: BatchReport) -> None:  # then a version whose threshold (0.25) is under its score (0.3)
        scorer.updates.pending.append(ModelUpdate("fraud", "own", "champion", "/m/own.onnx", "a" * 64, 1))  # type: ignore[union-attr]

    scorer.on_batch = after
    scorer.run(stop)
    (first,), (second,) = ([p for _, p in batch] for batch in delivery.committed)
    assert (first.version, first.score, first.label) == ("1", np.float32(0.2), 0)  # no threshold of its own: 0.5
    assert (second.version, second.label) == ("own", label)


def test_an_aborted_batch_is_rewound_and_scored_again_once() -> None:
    polls = [[message(transaction(0), 5), message(transaction(1), 0, partition=1), message(transaction(2), 6)]]
    scorer, consumer, delivery, stop = make_scorer(polls)
    delivery.abort_next = 1
    totals = scorer.run(stop)
    assert sorted(consumer.seeks) == [("events.transactions", 0, 5), ("events.transactions", 1, 0)]
    (batch,) = delivery.committed
    assert sorted(p.event_id for _, p in batch) == ["e0", "e1", "e2"]
    assert totals.aborted == 1 and totals.predictions == 3


def test_a_non_finite_score_dead_letters_the_event() -> None:
    scorer, _, delivery, stop = make_scorer([[message(transaction(0), 0)]])
    scorer.champion.load_now(ModelSource("fraud", "nan", "champion", "-", "-"))
    scorer.run(stop)
    ((topic, dead),) = delivery.committed[0]
    assert topic == "dlq.events.transactions" and "gave score nan" in str(dead.error)


def test_canary_routes_its_share_to_the_challenger_and_shadow_scores_everything() -> None:
    events = [transaction(i, customer=f"c{i:04d}") for i in range(200)]
    scorer, _, delivery, stop = make_scorer(
        [[message(tx, i) for i, tx in enumerate(events)]], shadow_alias="challenger", canary_share=0.25
    )
    scorer.run(stop)
    (batch,) = delivery.committed
    main = [p for t, p in batch if t == "predictions.fraud"]
    shadow = [p for t, p in batch if t == "predictions.fraud.shadow"]
    assert len(main) == len(shadow) == 200 and all(p.shadow and p.version == "c" for p in shadow)
    canary = {p.event_id for p in main if p.version == "c"}
    assert 30 < len(canary) < 70  # about a quarter of the 200 customers
    again, _, delivery2, stop2 = make_scorer([[message(tx, i) for i, tx in enumerate(events)]], canary_share=0.25)
    again.run(stop2)
    assert {p.event_id for _, p in delivery2.committed[0] if p.version == "c"} == canary  # stable routing


def test_no_champion_means_no_consuming_until_one_arrives() -> None:
    scorer, consumer, delivery, stop = make_scorer([[message(transaction(0), 0)]])
    scorer.champion.current = None
    scorer.updates.pending.append(ModelUpdate("fraud", "2", "champion", "/m/2.onnx", "a" * 64, 1))  # type: ignore[union-attr]
    scorer.run(stop)
    assert consumer.subscribed and [p.version for _, p in delivery.committed[0]] == ["2"]


def test_stop_finishes_the_batch_in_hand() -> None:
    polls = [[message(transaction(0), 0)], [message(transaction(1), 1)]]
    scorer, consumer, delivery, stop = make_scorer(polls)
    scorer.on_batch = lambda report: stop.set()
    scorer.run(stop)
    assert len(delivery.committed) == 1 and consumer.closed
    assert [p.event_id for _, p in delivery.committed[0]] == ["e0"] and delivery.offsets == [{(TOPIC, 0): 1}]
    assert msgspec.json.encode(delivery.committed[0][0][1])  # a whole prediction was produced


FULL_AT_2 = BatchPolicy(2, 0)  # a batch of 2 is full: the scorer takes the next one before scoring it


def test_a_full_batch_has_the_next_one_read_ahead_and_a_partial_one_does_not() -> None:
    polls = [
        [message(transaction(0), 0), message(transaction(1), 1)],
        [message(transaction(2), 2)],
        [message(transaction(3), 3)],
    ]
    scorer, consumer, delivery, stop = make_scorer(polls, policy=FULL_AT_2)
    served: list[int] = []
    scorer.on_batch = lambda report: served.append(consumer.served)
    scorer.run(stop)
    assert served == [2, 2, 3]  # the second poll was taken before the first was committed, the third after
    assert [len(batch) for batch in delivery.committed] == [2, 1, 1]


def test_an_aborted_batch_rewinds_the_batch_read_ahead_too() -> None:
    polls = [[message(transaction(0), 5), message(transaction(1), 6)], [message(transaction(2), 0, partition=1)]]
    scorer, consumer, delivery, stop = make_scorer(polls, policy=FULL_AT_2)
    delivery.abort_next = 1
    scorer.run(stop)
    assert sorted(consumer.seeks) == [(TOPIC, 0, 5), (TOPIC, 1, 0)]  # the second batch was in hand
    assert sorted(p.event_id for batch in delivery.committed for _, p in batch) == ["e0", "e1", "e2"]


def test_a_rebalance_drops_the_records_of_moved_partitions_from_the_batch_in_hand() -> None:
    first = [message(transaction(0), 5), message(transaction(1), 0, partition=1)]
    scorer, consumer, delivery, stop = make_scorer([first, [message(transaction(2), 6)]], policy=FULL_AT_2)
    consumer.revoke = {1: [1]}  # while the second batch is read ahead, partition 1 moves away
    scorer.run(stop)
    assert [[p.event_id for _, p in batch] for batch in delivery.committed] == [["e0"], ["e2"]]
    assert delivery.offsets == [{(TOPIC, 0): 6}, {(TOPIC, 0): 7}]

"""Scorer tests on the session's Kafka and Redis: each test gets its own topics (the shared ones may hold
other tests' records), ONNX models with the fraud service's signature, and feature rows in Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from feature_pipelines.online.redis_store import RedisOnlineStore
from feature_pipelines.repository import (
    customer_limit_usage,
    customer_profile,
    customer_txn_stats,
    get_service,
    merchant_txn_stats,
)
from rtml.kafka.clients import admin_client, consumer_config, producer_config
from rtml.settings import Settings
from schemas.feature_row import FeatureRow
from schemas.prediction import Prediction
from schemas.transaction import Transaction
from serving.testing import write_linear_onnx
from tests.support.services import settings_env

SERVICE = get_service("fraud")
NAMES = SERVICE.feature_names
ROOT = Path(__file__).resolve().parents[3]
AMOUNT = NAMES.index("amount")


@dataclass(frozen=True)
class ScorerTopics:
    events: str
    predictions: str
    updates: str

    @property
    def shadow(self) -> str:
        return f"{self.predictions}.shadow"

    @property
    def dead_letters(self) -> str:
        return f"dlq.{self.events}"

    def settings(self, settings: Settings, **overrides: object) -> Settings:
        """``settings`` pointed at these topics (and a group of their own)."""
        values = {
            "scorer_events_topic": self.events,
            "scorer_predictions_topic": self.predictions,
            "scorer_updates_topic": self.updates,
            "scorer_group": f"scorer-{self.events}",
            **overrides,
        }
        return settings.model_copy(update=values)

    def env(self, settings: Settings, **extra: str) -> dict[str, str]:
        """The environment of a ``python -m serving`` subprocess that sees the same services and topics."""
        return {
            **settings_env(settings),
            "RTML_SCORER_EVENTS_TOPIC": self.events,
            "RTML_SCORER_PREDICTIONS_TOPIC": self.predictions,
            "RTML_SCORER_UPDATES_TOPIC": self.updates,
            "RTML_SCORER_GROUP": f"scorer-{self.events}",
            "RTML_SCORER_SESSION_TIMEOUT_MS": "6000",
            **extra,
        }


@pytest.fixture
def topics(settings: Settings) -> ScorerTopics:
    t = uuid.uuid4().hex[:8]
    names = ScorerTopics(f"events.transactions.{t}", f"predictions.fraud.{t}", f"models.updates.{t}")
    specs = [
        NewTopic(names.events, num_partitions=3, replication_factor=1),
        NewTopic(names.predictions, num_partitions=3, replication_factor=1),
        NewTopic(names.shadow, num_partitions=1, replication_factor=1),
        NewTopic(names.dead_letters, num_partitions=1, replication_factor=1),
        NewTopic(names.updates, num_partitions=1, replication_factor=1),
    ]
    admin = admin_client(settings)  # held until the futures resolve: a collected client cancels them
    for future in admin.create_topics(specs).values():
        future.result(timeout=30)
    deadline = time.monotonic() + 30
    while not {s.topic for s in specs} <= set(admin.list_topics(timeout=10).topics):  # metadata catches up
        assert time.monotonic() < deadline, "created topics did not appear in the metadata"
        time.sleep(0.1)
    return names


def weights(seed: int) -> np.ndarray:
    """A linear model leaning on ``amount`` (so scores differ per event), other weights small."""
    w = np.random.default_rng(seed).normal(0, 0.01, len(NAMES))
    w[AMOUNT] = 0.02
    return w


@pytest.fixture(scope="session")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("scorer-models")
    return {v: write_linear_onnx(root / f"v{v}.onnx", NAMES, weights(int(v)), bias=-2.0) for v in ("1", "2")}


def transaction(t: str, i: int, customer: str, merchant: str = "m1", ts: int | None = None) -> Transaction:
    return Transaction(
        event_id=f"{t}-e{i:05d}",
        ts=ts if ts is not None else int(time.time() * 1000),
        customer_id=customer,
        merchant_id=merchant,
        merchant_category="grocery",
        amount=5.0 + i % 200,
        currency="EUR",
        country="DE",
        device_id="d1",
        channel="online" if i % 2 else "pos",
    )


def write_features(settings: Settings, customers: Iterable[str], merchants: Iterable[str]) -> int:
    """A fresh row for each customer (count_5m = 7; a bank profile read by the snapshot, credit limit 2000; a
    limit usage of 0.25) and merchant (count_1h = 40); returns the window end."""
    customers = list(customers)
    now = int(time.time() * 1000)
    end = now - now % 60_000
    store = RedisOnlineStore(settings.redis)
    try:
        store.write(
            customer_txn_stats,
            [
                FeatureRow(customer_txn_stats.name, c, end - 86_400_000, end, {"count_5m": 7, "mean_amount_1h": 30.0})
                for c in customers
            ],
        )
        store.write(
            merchant_txn_stats,
            [FeatureRow(merchant_txn_stats.name, m, end - 86_400_000, end, {"count_1h": 40}) for m in merchants],
        )
        store.write(
            customer_profile, [FeatureRow(customer_profile.name, c, 0, 1, {"credit_limit": 2000.0}) for c in customers]
        )
        store.write(
            customer_limit_usage,
            [
                FeatureRow(customer_limit_usage.name, c, end - 3_600_000, end, {"max_amount_to_limit_1h": 0.25})
                for c in customers
            ],
        )
    finally:
        store.close()
    return end


class EventSender:
    """Produces transactions (and raw bad values) and remembers where each landed."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.topic = topic
        self.producer = Producer(producer_config(settings))
        self.placed: dict[str, tuple[int, int]] = {}  # event id -> (partition, offset)

    def send(self, tx: Transaction) -> None:
        def placed(err: object, message: Message) -> None:
            assert err is None, err
            self.placed[tx.event_id] = (message.partition() or 0, message.offset() or 0)

        self.producer.produce(self.topic, msgspec.json.encode(tx), tx.customer_id, on_delivery=placed)
        self.producer.poll(0)

    def send_raw(self, key: bytes, value: bytes) -> None:
        self.producer.produce(self.topic, value, key)

    def flush(self) -> None:
        assert self.producer.flush(30) == 0


def read_all(
    settings: Settings, topic: str, done: Callable[[list[Message]], bool], seconds: float = 90
) -> list[Message]:
    """Every committed message of ``topic`` (read_committed, from the start) until ``done`` or ``seconds``."""
    consumer = Consumer(consumer_config(settings, f"reader-{uuid.uuid4().hex[:8]}"))
    consumer.subscribe([topic])
    got: list[Message] = []
    deadline = time.monotonic() + seconds
    try:
        while not done(got) and time.monotonic() < deadline:
            got.extend(m for m in consumer.consume(2000, 0.5) if m.error() is None)
    finally:
        consumer.close()
    return got


def read_to_end(settings: Settings, topic: str, *, committed: bool = True, seconds: float = 60) -> list[Message]:
    """Every message of ``topic`` up to its end now (``committed=False``: aborted ones too)."""
    overrides = {} if committed else {"isolation.level": "read_uncommitted"}
    consumer = Consumer(consumer_config(settings, f"reader-{uuid.uuid4().hex[:8]}", **overrides))
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    got: list[Message] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            got.extend(m for m in consumer.consume(2000, 0.5) if m.error() is None)
            positions = consumer.position([TopicPartition(topic, p) for p in partitions])
            if all(tp.offset >= ends[tp.partition] for tp in positions if ends[tp.partition] > 0):
                break
        else:
            raise AssertionError(f"{topic}: not read to its end {ends} within {seconds} s")
    finally:
        consumer.close()
    return got


def predictions(messages: Iterable[Message]) -> list[Prediction]:
    return [msgspec.json.decode(m.value(), type=Prediction) for m in messages]

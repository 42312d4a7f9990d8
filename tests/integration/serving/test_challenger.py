"""Shadow and canary on real Kafka: a challenger announced on models.updates scores every event into
predictions.<model>.shadow, and serves a stable share of customers on predictions.<model>."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import msgspec
from confluent_kafka import Producer

from rtml.kafka.clients import producer_config
from rtml.settings import Settings
from schemas.model_update import ModelUpdate
from serving.app import build_scorer
from serving.config import ScorerConfig
from serving.routing import bucket
from tests.integration.serving.conftest import EventSender, ScorerTopics, predictions, read_all, transaction
from training.versions import sha256_file

EVENTS = 300
SHARE = 0.3


def test_shadow_scores_everything_and_the_canary_serves_its_share(
    settings: Settings, topics: ScorerTopics, model_files: dict[str, Path]
) -> None:
    t = uuid.uuid4().hex[:8]
    scoped = topics.settings(settings, scorer_batch_max_ms=20)
    config = ScorerConfig.from_settings(
        scoped, "fraud", "events.transactions", shadow_alias="challenger", canary_share=SHARE
    )
    scorer = build_scorer(scoped, config, model_file=model_files["1"], model_version="1")
    assert scorer.challenger is not None and scorer.challenger.current is None  # no registry: waits for an update
    stop = threading.Event()
    thread = threading.Thread(target=scorer.run, args=(stop,))
    thread.start()
    try:
        path = model_files["2"]
        update = ModelUpdate("fraud", "2", "challenger", str(path), sha256_file(path), int(time.time() * 1000))
        producer = Producer(producer_config(settings))
        producer.produce(topics.updates, msgspec.json.encode(update), "fraud")
        assert producer.flush(10) == 0
        deadline = time.monotonic() + 30
        while scorer.challenger.current is None:
            assert time.monotonic() < deadline, "the challenger was not loaded"
            time.sleep(0.1)
        sender = EventSender(settings, topics.events)
        sent = [transaction(t, i, f"{t}-c{i % 100}") for i in range(EVENTS)]
        for tx in sent:
            sender.send(tx)
        sender.flush()
        main = predictions(read_all(settings, topics.predictions, lambda m: len(m) >= EVENTS))
        shadow = predictions(read_all(settings, topics.shadow, lambda m: len(m) >= EVENTS))
    finally:
        stop.set()
        thread.join(30)

    assert sorted(p.event_id for p in shadow) == sorted(tx.event_id for tx in sent)
    assert all(p.shadow and p.version == "2" for p in shadow)
    customer = {tx.event_id: tx.customer_id for tx in sent}
    assert sorted(p.event_id for p in main) == sorted(customer)
    for p in main:
        assert not p.shadow and p.version == ("2" if bucket(customer[p.event_id]) < SHARE else "1")
    assert 0.15 < sum(p.version == "2" for p in main) / EVENTS < 0.45

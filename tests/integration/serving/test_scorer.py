"""The scorer on real Kafka and Redis (at-least-once): one prediction per valid event with the features it
used, bad events in the dead-letter topic, unknown entities scored with defaults and flagged, metrics;
and the process stops cleanly on SIGTERM, leaving the group with its offsets committed."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
from confluent_kafka import Consumer, TopicPartition
from prometheus_client import REGISTRY

from rtml.kafka.clients import admin_client, consumer_config
from rtml.settings import Settings
from schemas.dlq import COMPONENT, ERROR_RULE, SOURCE_TOPIC, parse_dead_letter_headers
from serving.app import build_scorer
from serving.config import ScorerConfig
from serving.scorer import BatchReport, ScorerTotals
from tests.integration.serving.conftest import (
    NAMES,
    ROOT,
    EventSender,
    ScorerTopics,
    predictions,
    read_all,
    transaction,
    weights,
    write_features,
)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def expected_score(features: dict[str, float | None]) -> float:
    x = np.array([0.0 if features[n] is None else features[n] for n in NAMES], dtype=np.float32)
    return float(1 / (1 + np.exp(-(float(x @ weights(1).astype(np.float32)) - 2.0))))


def test_events_are_scored_with_their_features_and_bad_ones_dead_lettered(
    settings: Settings, topics: ScorerTopics, model_files: dict[str, Path]
) -> None:
    t = uuid.uuid4().hex[:8]
    known, ghost, merchant = f"{t}-known", f"{t}-ghost", f"{t}-m"
    write_features(settings, [known], [merchant])
    sender = EventSender(settings, topics.events)
    sent = [transaction(t, i, known if i % 3 else ghost, merchant) for i in range(30)]
    for tx in sent:
        sender.send(tx)
    bad = {b"bad-json": b'{"type": "transaction", "amount": ', b"bad-amount": b'{"type":"transaction","amount":-1}'}
    for key, value in bad.items():
        sender.send_raw(key, value)
    sender.flush()
    latency_before = metric("ml_prediction_latency_count", model="fraud")
    lookups_before = metric("rtml_scorer_feature_lookup_seconds_count", model="fraud")

    scoped = topics.settings(settings, scorer_batch_max_records=8, scorer_batch_max_ms=20)
    config = ScorerConfig.from_settings(scoped, "fraud", "events.transactions")
    reports: list[BatchReport] = []
    scorer = build_scorer(scoped, config, model_file=model_files["1"], model_version="1", on_batch=reports.append)
    stop, outcome = threading.Event(), []
    thread = threading.Thread(target=lambda: outcome.append(scorer.run(stop)), daemon=True)
    thread.start()
    try:
        got = predictions(read_all(settings, topics.predictions, lambda m: len(m) >= len(sent)))
        dead = read_all(settings, topics.dead_letters, lambda m: len(m) >= len(bad))
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive() and isinstance(outcome[0], ScorerTotals)

    assert Counter(p.event_id for p in got) == Counter(tx.event_id for tx in sent)
    by_id = {tx.event_id: tx for tx in sent}
    for p in got:
        tx = by_id[p.event_id]
        assert (p.model, p.version, p.ts, p.shadow) == ("fraud", "1", tx.ts, False)
        assert p.label == int(p.score >= 0.5) and abs(p.score - expected_score(p.features)) < 1e-5
        assert p.features["amount"] == tx.amount and p.latency_ms is not None and p.scored_at >= tx.ts
        assert p.features["merchant_txn_stats__count_1h"] == 40.0
        if tx.customer_id == known:
            assert p.features_missing == [] and p.features["customer_txn_stats__count_5m"] == 7.0
            assert p.features["customer_profile__credit_limit"] == 2000.0  # a snapshot row holds, however old
            assert p.features["customer_limit_usage__max_amount_to_limit_1h"] == 0.25
        else:
            assert p.features_missing == ["customer_txn_stats", "customer_profile", "customer_limit_usage"]
            assert p.features["customer_profile__credit_limit"] is None
            assert p.features["customer_txn_stats__count_5m"] == 0.0  # the view's default
            assert p.features["customer_txn_stats__mean_amount_1h"] is None  # imputed by the model
    assert {m.key(): m.value() for m in dead} == bad
    rules = {m.key(): parse_dead_letter_headers(m.headers()) for m in dead}
    assert (rules[b"bad-json"][ERROR_RULE], rules[b"bad-amount"][ERROR_RULE]) == ("json", "gt")
    assert rules[b"bad-json"][COMPONENT] == "scorer-fraud" and rules[b"bad-json"][SOURCE_TOPIC] == topics.events
    # every batch within the size bound; one that scored names the champion (a batch of bad records only scored
    # nothing and names no version: how the 10 records split into batches depends on how the fetches fall)
    assert all(r.records <= 8 and r.versions == ({"champion": "1"} if r.predictions else {}) for r in reports)
    assert sum(r.predictions for r in reports) == len(sent) and sum(r.dead_letters for r in reports) == len(bad)
    assert metric("ml_prediction_latency_count", model="fraud") - latency_before == len(sent)
    assert metric("rtml_scorer_feature_lookup_seconds_count", model="fraud") - lookups_before == len(reports)
    assert metric("rtml_scorer_model_info", model="fraud", role="champion", version="1", provider="cpu",
                  sha256=scorer.champion.current.source.sha256 if scorer.champion.current else "",
                  runtime="OnnxRuntimeModel") == 1  # fmt: skip
    assert metric("rtml_dead_letters_total", component="scorer-fraud", topic=topics.events, rule="json") >= 1


def test_sigterm_finishes_commits_and_leaves_the_group(
    settings: Settings, topics: ScorerTopics, model_files: dict[str, Path], tmp_path: Path
) -> None:
    t = uuid.uuid4().hex[:8]
    sender = EventSender(settings, topics.events)
    sent = [transaction(t, i, f"{t}-c{i % 5}") for i in range(200)]
    for tx in sent:
        sender.send(tx)
    sender.flush()
    log = tmp_path / "scorer.log"
    command = [sys.executable, "-m", "serving", "--model", "fraud", "--model-file", str(model_files["1"])]
    command += ["--metrics-port", "0", "--instance", t]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=topics.env(settings), stdout=out, stderr=subprocess.STDOUT)
    try:
        got = read_all(settings, topics.predictions, lambda m: len(m) >= len(sent))
        assert len(got) == len(sent), log.read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text()
    assert "SIGTERM received: stopping after the current batch" in text and "scorer fraud stopped" in text

    group = f"scorer-{topics.events}"
    admin = admin_client(settings)
    described = admin.describe_consumer_groups([group])[group].result(timeout=30)
    assert not described.members, "the scorer did not leave the group"  # gone now, not after a session timeout
    consumer = Consumer(consumer_config(settings, group))
    try:
        committed = consumer.committed([TopicPartition(topics.events, p) for p in range(3)], timeout=10)
        ends = [consumer.get_watermark_offsets(TopicPartition(topics.events, p), timeout=10)[1] for p in range(3)]
    finally:
        consumer.close()
    assert [max(tp.offset, 0) for tp in committed] == ends  # -1001: nothing to commit (an empty partition)

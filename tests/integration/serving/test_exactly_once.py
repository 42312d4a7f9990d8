"""Exactly-once under SIGKILL: events keep arriving while the scorer process is killed mid-stream several
times and restarted; a read_committed reader then sees exactly one prediction per valid event and each
bad event once in the dead-letter topic: no duplicate, no gap."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from confluent_kafka import Consumer

from rtml.kafka.clients import consumer_config
from rtml.settings import Settings
from tests.integration.serving.conftest import (
    ROOT,
    EventSender,
    ScorerTopics,
    predictions,
    read_to_end,
    transaction,
    write_features,
)

EVENTS = 4000
BAD = 6
KILLS = 3


class CommittedCounter(threading.Thread):
    """Counts the predictions a read_committed reader sees, as they are committed."""

    def __init__(self, settings: Settings, topic: str) -> None:
        super().__init__(daemon=True)
        self.consumer = Consumer(consumer_config(settings, f"counter-{uuid.uuid4().hex[:8]}"))
        self.consumer.subscribe([topic])
        self.seen = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.seen += sum(1 for m in self.consumer.consume(1000, 0.2) if m.error() is None)
        self.consumer.close()

    def wait_for(self, n: int, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while self.seen < n:
            assert time.monotonic() < deadline, f"{self.seen} predictions committed, waited for {n}"
            time.sleep(0.02)


def test_every_event_is_scored_exactly_once_across_sigkills(
    settings: Settings, topics: ScorerTopics, model_files: dict[str, Path], tmp_path: Path
) -> None:
    t = uuid.uuid4().hex[:8]
    customers = [f"{t}-c{i}" for i in range(50)]
    write_features(settings, customers[:40], ["m1"])
    sent = [transaction(t, i, customers[i % 50]) for i in range(EVENTS)]
    bad_at = set(random.Random(t).sample(range(EVENTS), BAD))

    def produce() -> None:  # ~400 events/s for ~10 s: a backlog builds while the scorer restarts
        sender = EventSender(settings, topics.events)
        for i, tx in enumerate(sent):
            sender.send(tx)
            if i in bad_at:
                sender.send_raw(f"bad-{i}".encode(), b'{"type":"transaction","event_id":')
            if i % 20 == 19:
                sender.flush()
                time.sleep(0.05)
        sender.flush()

    counter = CommittedCounter(settings, topics.predictions)
    counter.start()
    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    command = [sys.executable, "-m", "serving", "--model", "fraud", "--exactly-once", "--instance", t]
    command += ["--model-file", str(model_files["1"]), "--metrics-port", "0"]
    env = topics.env(settings, RTML_SCORER_BATCH_MAX_RECORDS="64", RTML_SCORER_BATCH_MAX_MS="20")
    logs: list[Path] = []

    def start() -> subprocess.Popen[bytes]:
        logs.append(tmp_path / f"scorer-{len(logs)}.log")
        with logs[-1].open("w") as out:
            return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    rng = random.Random(7)
    process = start()
    try:
        for _ in range(KILLS):
            counter.wait_for(counter.seen + 300)  # it is scoring (a backlog, batch after batch) ...
            time.sleep(rng.uniform(0.0, 0.05))  # ... so the kill lands inside a transaction
            assert process.poll() is None, logs[-1].read_text()
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            process = start()
        producer.join(120)
        counter.wait_for(EVENTS, seconds=180)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, logs[-1].read_text()
    finally:
        counter.done.set()
        if process.poll() is None:
            process.kill()
            process.wait()

    got = read_to_end(settings, topics.predictions)
    dead = read_to_end(settings, topics.dead_letters)
    aborted = len(read_to_end(settings, topics.predictions, committed=False)) - len(got)
    print(f"\n{KILLS} kills left {aborted} predictions in aborted transactions (invisible to read_committed)")
    counts = Counter(p.event_id for p in predictions(got))
    duplicates = {e: n for e, n in counts.items() if n > 1}
    missing = {tx.event_id for tx in sent} - set(counts)
    assert not duplicates and not missing, (len(duplicates), len(missing), logs[-1].read_text()[-3000:])
    assert len(counts) == EVENTS
    assert Counter(m.key() for m in dead) == Counter(f"bad-{i}".encode() for i in bad_at)
    assert len(logs) == KILLS + 1

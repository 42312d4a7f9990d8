"""The drift monitor as its own process on the session's Kafka: a shift becomes a drift event on
monitoring.drift, and after a SIGKILL the restarted monitor resumes its windows and label joins from the
changelog topics (labels of predictions consumed before the kill are still joined after it)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import NewTopic
from prometheus_client.parser import text_string_to_metric_families

from rtml.kafka.clients import admin_client, consumer_config, producer_config
from rtml.settings import Settings
from rtml.stack.ports import free_port
from schemas.codec import RecordCodec
from schemas.drift import DriftEvent
from schemas.label import Label
from schemas.prediction import Prediction
from stream_jobs.drift.app import STATE_TABLE
from stream_jobs.drift.monitor import DriftMonitor
from tests.support.drift_stream import predictions, reference_profile
from tests.support.services import settings_env

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
PREDICTIONS = RecordCodec(Prediction)
LABELS = RecordCodec(Label)
DRIFT = RecordCodec(DriftEvent)


@pytest.fixture
def run_id(settings: Settings) -> Iterator[str]:
    run = uuid.uuid4().hex[:8]
    admin = admin_client(settings)
    futures = admin.create_topics([NewTopic(f"predictions.drift-{run}", 3, 1), NewTopic(f"labels.drift-{run}", 2, 1)])
    for future in futures.values():
        future.result(30)
    yield run


def produce(settings: Settings, topic: str, records: Sequence[Prediction | Label]) -> None:
    producer = Producer(producer_config(settings))
    codec = PREDICTIONS if topic.startswith("predictions.") else LABELS
    for record in records:
        producer.produce(topic, key=record.event_id.encode(), value=codec.encode(record))  # type: ignore[arg-type]
        producer.poll(0)
    assert producer.flush(30) == 0


def start_monitor(
    settings: Settings, run: str, reference: Path, log: Path, *, metrics_port: int | None = None, **env_extra: str
) -> subprocess.Popen[bytes]:
    env = {
        **settings_env(settings),
        "RTML_MONITOR_PREDICTIONS_TOPIC": f"predictions.drift-{run}",
        "RTML_MONITOR_LABELS_TOPIC": f"labels.drift-{run}",
        "RTML_MONITOR_BATCH_MAX_S": "0.2",
        **env_extra,
    }
    argv = [sys.executable, "-m", "stream_jobs.drift", "--model", "fraud", "--reference", str(reference)]
    argv += ["--reference-version", f"v{run}", "--group", f"drift-{run}"]
    argv += ["--metrics-port", str(metrics_port or free_port())]
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def records_processed(port: int, topic: str) -> float:
    """The monitor's own count of records it processed from ``topic`` (0 until its metrics answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "rtml_monitor_records_total" and sample.labels.get("topic") == topic
    )


def latest_snapshot(settings: Settings, run: str) -> DriftMonitor | None:
    """The monitor state the process last wrote to its changelog topic."""
    consumer = Consumer(consumer_config(settings, f"probe-{uuid.uuid4().hex}"))
    topic = f"drift-{run}-{STATE_TABLE}-changelog"
    if topic not in consumer.list_topics(timeout=10).topics:
        consumer.close()
        return None
    _, end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    consumer.assign([TopicPartition(topic, 0, max(0, end - 50))])  # snapshots are whole: the last one will do
    last, offset = None, -1
    deadline = time.monotonic() + 30
    while offset < end - 1 and time.monotonic() < deadline:
        for message in consumer.consume(1000, timeout=1.0):
            if message.error() is None:
                offset = message.offset()
                last = message.value() or last
    consumer.close()
    return DriftMonitor.restore(last, reference=reference_profile()) if last else None  # written without it


def wait_for(settings: Settings, run: str, ready: object, seconds: float = 240) -> DriftMonitor:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        monitor = latest_snapshot(settings, run)
        if monitor is not None and ready(monitor):  # type: ignore[operator]
            return monitor
        time.sleep(1)
    seen = monitor and (monitor.counts, monitor.performance.seen, monitor.join.counts)
    raise AssertionError(f"the monitor's state never got there; last (counts, outcomes, joins): {seen}")


def drift_events(settings: Settings, version: str, seconds: float = 60) -> list[DriftEvent]:
    consumer = Consumer(consumer_config(settings, f"probe-{uuid.uuid4().hex}"))
    consumer.assign([TopicPartition("monitoring.drift", 0, OFFSET_BEGINNING)])
    found: list[DriftEvent] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for message in consumer.consume(1000, timeout=1.0):
            if message.error() is None and message.value():
                event = DRIFT.decode(message.value())
                if event.version == version:
                    found.append(event)
        if found:
            break
    consumer.close()
    return found


def test_drift_event_and_resume_after_sigkill(settings: Settings, run_id: str, tmp_path: Path) -> None:
    run, version = run_id, f"v{run_id}"
    reference = tmp_path / "profile.json"
    reference.write_bytes(reference_profile().to_json())
    log = tmp_path / "monitor.log"
    preds, labels = predictions(6000, shift_at=3000, version=version)
    preds = [msgspec_replace(p, f"{run}-{p.event_id}") for p in preds]
    labels = [msgspec_replace(label, f"{run}-{label.event_id}") for label in labels]

    monitor = start_monitor(settings, run, reference, log)
    try:
        produce(settings, f"predictions.drift-{run}", preds[:3000])
        produce(settings, f"labels.drift-{run}", labels[:1500])
        before = wait_for(settings, run, lambda m: m.counts.predictions >= 3000 and m.performance.seen >= 1500)
        assert before.counts.events == 0, "a stationary stream raised drift events"
        assert len(before.join) == 0  # the store is not in the snapshot; the joins table holds it
        time.sleep(4)  # past faust's commit interval (2.8 s), as a long-running monitor would be
    finally:
        monitor.send_signal(signal.SIGKILL)
        monitor.wait(30)

    # While it is down: the labels of predictions it consumed before the kill, then the shift.
    produce(settings, f"labels.drift-{run}", labels[1500:3000])
    produce(settings, f"predictions.drift-{run}", preds[3000:])
    produce(settings, f"labels.drift-{run}", labels[3000:])
    monitor = start_monitor(settings, run, reference, log)
    try:
        after = wait_for(settings, run, lambda m: m.performance.seen >= 6000 and m.counts.predictions >= 6000)
        events = drift_events(settings, version)
        monitor.send_signal(signal.SIGTERM)
        try:
            code = monitor.wait(60)
        except subprocess.TimeoutExpired:
            code = None
        assert code == 0, log.read_text()[-5000:]
    finally:
        if monitor.poll() is None:
            monitor.kill()
    # Windows went on from where they were (window indices continue), and every label found its prediction,
    # also the 1500 whose predictions were consumed before the kill (they waited in the joins changelog).
    assert after.windows.index >= before.windows.index + 6
    assert after.performance.seen >= 6000
    assert after.performance.accuracy is not None and after.performance.accuracy > 0.8
    psi = [e for e in events if e.detector == "psi" and e.kind == "feature"]
    assert psi, f"no feature PSI event; got {[(e.kind, e.detector, e.feature) for e in events]}"
    assert psi[0].feature == "amount"
    assert psi[0].severity == "critical"
    assert psi[0].evidence["features"] == "amount"
    assert psi[0].window_end >= preds[3000].ts


def test_a_stop_does_not_wait_for_the_next_checkpoint(settings: Settings, run_id: str, tmp_path: Path) -> None:
    """SIGTERM while processed records wait for a checkpoint (one every 120 s here): the monitor exits at once,
    commits nothing past its last checkpoint, and the restarted monitor reads those records again."""
    run, version = run_id, f"v{run_id}"
    reference = tmp_path / "profile.json"
    reference.write_bytes(reference_profile().to_json())
    log = tmp_path / "monitor.log"
    preds, _ = predictions(400, version=version)
    preds = [msgspec_replace(p, f"{run}-{p.event_id}") for p in preds]
    produce(settings, f"predictions.drift-{run}", preds)
    port = free_port()
    monitor = start_monitor(settings, run, reference, log, metrics_port=port, RTML_MONITOR_CHECKPOINT_INTERVAL_S="120")
    try:
        deadline = time.monotonic() + 120
        while records_processed(port, f"predictions.drift-{run}") < 400 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert records_processed(port, f"predictions.drift-{run}") >= 400, log.read_text()[-3000:]
        stopped = time.monotonic()
        monitor.send_signal(signal.SIGTERM)
        try:
            code = monitor.wait(60)
        except subprocess.TimeoutExpired:
            code = None
        assert code == 0, log.read_text()[-5000:]
        assert time.monotonic() - stopped < 25, "the stop waited for something"
    finally:
        if monitor.poll() is None:
            monitor.kill()
    assert latest_snapshot(settings, run) is None  # no checkpoint came: nothing written, nothing committed

    monitor = start_monitor(settings, run, reference, log, RTML_MONITOR_CHECKPOINT_INTERVAL_S="1")
    try:
        again = wait_for(settings, run, lambda m: m.counts.predictions >= 400, seconds=120)
    finally:
        monitor.send_signal(signal.SIGTERM)
        monitor.wait(60)
    assert again.counts.predictions == 400  # read again from the start, each once


def msgspec_replace(record: Any, event_id: str) -> Any:
    return msgspec.structs.replace(record, event_id=event_id)


def test_without_a_champion_the_monitor_says_to_train_first(settings: Settings) -> None:
    argv = [sys.executable, "-m", "stream_jobs.drift", "--model", "fraud", "--metrics-port", "0"]
    done = subprocess.run(argv, cwd=ROOT, env=settings_env(settings), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "no champion" in done.stderr and "rtml train" in done.stderr
    assert "Traceback" not in done.stderr

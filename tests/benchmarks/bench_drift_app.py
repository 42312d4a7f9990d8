"""The drift monitor as a process (``python -m stream_jobs.drift``, as ``rtml jobs start monitor`` runs it):
how fast it works off a backlog of predictions and labels, and how much CPU that takes.

- The stream: predictions as the scorer writes them for the fraud model (its 24 feature names; the columns
  drawn from tests/support/drift_stream.py's generator), JSON from the project's codecs, produced with the
  project's producer settings (lz4, idempotent, acks=all) in chunks of ``CHUNK`` flushed one by one, so the
  log holds small record batches as the scorer's micro-batches at ~200/s leave it. One label per prediction,
  and before them ``PENDING`` predictions whose labels never come in the run: at 200/s with labels ~60 s late,
  the label join holds ~12k entries.
- The monitor watches the demo's five features (``rtml demo``'s ``RTML_MONITOR_FEATURES``) with every detector,
  from a reference profile file (``--reference``, no MLflow), its group new, so it starts at the earliest offset.
- Measured between the first and the last moment its group's committed offsets moved (the start-up, imports
  and the changelog recovery, is reported apart): records/s, predictions/s, and predictions per CPU-second of
  the monitor process (utime + stime from /proc/<pid>/stat), the figure that means something on a shared
  machine (2 cores here shared by the broker, this process and the monitor).

``RTML_BENCH_DRIFT_APP_PREDICTIONS`` sets N (default 30,000); ``RTML_BENCH_DRIFT_APP_PROFILE=<dir>`` also
records the monitor with py-spy (``<dir>/<source>/drift-app.txt``, raw collapsed stacks, and ``drift-app-top.txt``
beside it, the heaviest functions by own and total samples); ``RTML_BENCH_DRIFT_APP_BASELINE=<checkout>`` runs
the monitor from that checkout too (``git worktree add`` or ``git archive HEAD | tar -x -C <dir>``), alternating
with this one twice on the same backlog, for a before/after under the same load. Prints figures, asserts
nothing about time. Run:

    .venv/bin/python -m pytest tests/benchmarks/bench_drift_app.py -m benchmark -s -p no:randomly
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np
import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from feature_pipelines.repository import get_service
from rtml.demo.runner import DEMO_ENVIRONMENT
from rtml.kafka.clients import admin_client, consumer_config, producer_config
from rtml.settings import Settings
from rtml.stack.ports import free_port
from rtml.topics import create_topics, topic_specs
from schemas.codec import RecordCodec
from schemas.label import Label
from schemas.prediction import Prediction
from tests.support import drift_stream
from tests.support.services import settings_env
from training.profile import ReferenceProfile, build_profile

ROOT = Path(__file__).resolve().parents[2]
N = int(os.environ.get("RTML_BENCH_DRIFT_APP_PREDICTIONS", "30000"))
PENDING = 12_000
CHUNK = 6  # records per producer flush: ~1 record per partition and batch, as the scorer's at ~200/s
PROFILE_DIR = os.environ.get("RTML_BENCH_DRIFT_APP_PROFILE")
BASELINE = os.environ.get("RTML_BENCH_DRIFT_APP_BASELINE")
FEATURES = get_service("fraud").feature_names
PREDICTIONS = RecordCodec(Prediction)
LABELS = RecordCodec(Label)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def wide(X: np.ndarray) -> np.ndarray:
    """The generator's five columns spread over the fraud model's 24 features (cyclically)."""
    return X[:, [j % X.shape[1] for j in range(len(FEATURES))]]


def reference() -> ReferenceProfile:
    X = drift_stream.feature_matrix(20_000, np.random.default_rng(1))
    return build_profile(wide(X), drift_stream.scores_of(X), FEATURES)


def stream(n: int, start_index: int, seed: int) -> tuple[list[Prediction], list[Label]]:
    preds, labels = drift_stream.predictions(n, seed=seed, start_index=start_index)
    names = drift_stream.FEATURES
    widened = [
        msgspec.structs.replace(p, features={f: p.features[names[j % len(names)]] for j, f in enumerate(FEATURES)})
        for p in preds
    ]
    return widened, labels


def make_topic(settings: Settings, name: str, partitions: int) -> str:
    admin = admin_client(settings)
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(timeout=30)
    while name not in admin.list_topics(timeout=10).topics:
        time.sleep(0.1)
    return name


def produce(settings: Settings, topic: str, records: Sequence[Prediction | Label]) -> None:
    producer = Producer(producer_config(settings))
    codec: RecordCodec[object] = PREDICTIONS if topic.startswith("predictions.") else LABELS  # type: ignore[assignment]
    for i, record in enumerate(records, 1):
        producer.produce(topic, key=record.event_id.encode(), value=codec.encode(record))
        if i % CHUNK == 0:
            producer.flush(30)
    assert producer.flush(30) == 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


class Lag:
    """The monitor group's committed offsets against the ends of its input topics."""

    def __init__(self, settings: Settings, group: str, topics: dict[str, int]) -> None:
        self.consumer = Consumer(consumer_config(settings, group))
        self.partitions = [TopicPartition(t, p) for t, n in topics.items() for p in range(n)]
        self.ends = {(tp.topic, tp.partition): self.consumer.get_watermark_offsets(tp, 10)[1] for tp in self.partitions}

    def committed(self) -> dict[str, int] | None:
        """Committed records per topic; None while the group coordinator is not ready to say."""
        try:
            found = self.consumer.committed(self.partitions, timeout=10)
        except KafkaException:
            return None
        out: Counter[str] = Counter()
        for tp in found:
            out[tp.topic] += max(0, tp.offset)
        return dict(out)

    def total(self) -> int:
        return sum(self.ends.values())

    def close(self) -> None:
        self.consumer.close()


def start_monitor(
    settings: Settings, topics: tuple[str, str], profile: Path, group: str, log: Path, root: Path
) -> subprocess.Popen[bytes]:
    env = {
        **settings_env(settings),
        "RTML_MONITOR_PREDICTIONS_TOPIC": topics[0],
        "RTML_MONITOR_LABELS_TOPIC": topics[1],
        "RTML_MONITOR_FEATURES": DEMO_ENVIRONMENT["RTML_MONITOR_FEATURES"],
    }
    argv = [sys.executable, "-m", "stream_jobs.drift", "--model", "fraud", "--reference", str(profile)]
    argv += ["--reference-version", drift_stream.VERSION, "--group", group, "--metrics-port", str(free_port())]
    return subprocess.Popen(argv, cwd=root, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def start_profiler(pid: int, to: Path) -> subprocess.Popen[bytes] | None:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        return None
    to.mkdir(parents=True, exist_ok=True)
    out = str(to / "drift-app.txt")
    argv = [py_spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "100", "-o", out, "--nonblocking"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    process.send_signal(sig)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def top_functions(raw: Path, n: int = 25) -> str:
    """The heaviest frames of py-spy's raw (collapsed) stacks: own samples and total (inclusive) samples."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        k = int(count)
        samples += k
        own[frames[-1]] += k
        for frame in set(frames):
            total[frame] += k
    lines = [f"{samples} samples; own:"]
    lines += [f"  {c / samples:6.1%}  {f}" for f, c in own.most_common(n)]
    lines += ["total (inclusive):"]
    lines += [f"  {c / samples:6.1%}  {f}" for f, c in total.most_common(n * 2)]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def backlog(kafka_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    settings = kafka_settings
    create_topics(admin_client(settings), topic_specs(settings))  # models.updates and monitoring.drift
    run = uuid.uuid4().hex[:8]
    predictions = make_topic(settings, f"predictions.bench-{run}", 6)
    labels = make_topic(settings, f"labels.bench-{run}", 3)
    waiting, _ = stream(PENDING, 0, seed=3)
    preds, labs = stream(N, PENDING, seed=4)
    started = time.perf_counter()
    produce(settings, predictions, waiting + preds)
    produce(settings, labels, labs)
    print(f"\nproduced {N + PENDING:,} predictions and {N:,} labels in {time.perf_counter() - started:.1f} s")
    profile = tmp_path_factory.mktemp("bench-drift-app") / "profile.json"
    profile.write_bytes(reference().to_json())
    yield predictions, labels, profile


@dataclass
class Run:
    source: str
    startup_s: float
    startup_cpu_s: float
    records: int
    predictions: int
    wall_s: float
    cpu_s: float
    rss_mib: int
    load: float

    def line(self) -> str:
        return (
            f"  {self.source:<14} {self.records / self.wall_s:>7,.0f} records/s  "
            f"{self.predictions / self.wall_s:>7,.0f} predictions/s  {self.predictions / self.cpu_s:>7,.0f} "
            f"predictions/CPU-s  "
            f"({self.records:,} records in {self.wall_s:.1f} s, {self.cpu_s:.1f} CPU-s, {self.cpu_s / self.wall_s:.0%} "
            f"of a core; start-up {self.startup_s:.1f} s, {self.startup_cpu_s:.1f} CPU-s; peak RSS {self.rss_mib} MiB; "
            f"load {self.load:.1f})"
        )


def measure(
    settings: Settings, backlog: tuple[str, str, Path], source: str, root: Path, profile_to: Path | None
) -> Run:
    """The monitor (from the checkout ``root``) with a new group over the whole backlog."""
    predictions, labels, profile = backlog
    group = f"bench-drift-{uuid.uuid4().hex[:8]}"
    log = profile.parent / f"monitor-{group}.log"
    lag = Lag(settings, group, {predictions: 6, labels: 3})
    total = lag.total()
    launched = time.monotonic()
    monitor = start_monitor(settings, (predictions, labels), profile, group, log, root)
    profiler = start_profiler(monitor.pid, profile_to) if profile_to is not None else None
    first: tuple[float, float, dict[str, int]] | None = None
    last: tuple[float, float, dict[str, int]] | None = None
    try:
        deadline = launched + 1800
        while time.monotonic() < deadline:
            assert monitor.poll() is None, log.read_text()[-3000:]
            now, cpu, done = time.monotonic(), cpu_seconds(monitor.pid), lag.committed()
            if done is None:
                continue
            if sum(done.values()) and (last is None or done != last[2]):
                last = (now, cpu, done)
                first = first or last
            if sum(done.values()) >= total:
                break
            time.sleep(0.25)
        status = Path(f"/proc/{monitor.pid}/status").read_text().splitlines()
        rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    finally:
        if profiler is not None:
            stop(profiler, signal.SIGINT)
        stop(monitor)
        lag.close()
    assert first is not None and last is not None, log.read_text()[-3000:]
    assert sum(last[2].values()) >= total, f"committed {last[2]} of {total} records in 30 min"
    return Run(
        source,
        first[0] - launched,
        first[1],
        sum(last[2].values()) - sum(first[2].values()),
        last[2][predictions] - first[2].get(predictions, 0),
        last[0] - first[0],
        last[1] - first[1],
        rss_kb // 1024,
        os.getloadavg()[0],
    )


@pytest.mark.benchmark
def test_drift_monitor_process(kafka_settings: Settings, backlog: tuple[str, str, Path]) -> None:
    sources = [("this checkout", ROOT)]
    if BASELINE:
        sources = [("baseline", Path(BASELINE)), *sources] * 2  # alternating: both see the same load
    print(
        f"drift monitor process: {N + PENDING:,} predictions + {N:,} labels, {len(FEATURES)} features per prediction "
        f"(5 watched), every detector; {os.cpu_count()} cores shared with the broker and this process"
    )
    for source, root in sources:
        profile_to = Path(PROFILE_DIR) / source.replace(" ", "-") if PROFILE_DIR else None
        print(measure(kafka_settings, backlog, source, root, profile_to).line(), flush=True)
        if profile_to is not None and (profile_to / "drift-app.txt").exists():
            summary = top_functions(profile_to / "drift-app.txt")
            (profile_to / "drift-app-top.txt").write_text(summary + "\n")
            print(f"    py-spy: {profile_to}/drift-app.txt, heaviest functions in {profile_to}/drift-app-top.txt")

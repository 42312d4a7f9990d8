"""The demo's paced traffic continues the generated history without a pause, at the wall clock."""

from __future__ import annotations

import dataclasses
import time

from rtml.datagen.config import GeneratorConfig
from rtml.datagen.transactions import TransactionGenerator
from rtml.demo.traffic import DemoTraffic
from rtml.settings import Settings
from schemas.label import Label
from schemas.transaction import Transaction


class _Collect:
    """Stands in for the Kafka producer: keeps what the traffic sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Transaction | Label]] = []

    def send(self, topic: str, key: str, record: Transaction | Label) -> None:
        self.sent.append((topic, key, record))

    def flush(self, timeout_s: float = 30.0) -> None:
        pass


def test_paced_traffic_continues_the_history_without_a_pause_and_drifts_after_going_live(tmp_path) -> None:
    now = int(time.time() * 1000)
    config = GeneratorConfig(start_ts=now - 3_000, seed=5, rate=2000, daily_cycle=False, legit_label_delay_s=0.2)
    traffic = DemoTraffic(Settings(home=tmp_path, data_dir=tmp_path), config, history=4000)
    traffic.producer = collect = _Collect()  # type: ignore[assignment]
    traffic.produce_history()
    paced_from = int(time.time() * 1000)
    traffic.start_paced()
    # the first model "trains": the stream goes on meanwhile, and catches up with the wall clock
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
        getattr(r, "amount", None) is not None and r.ts >= paced_from for _, _, r in collect.sent[-50:]
    ):
        time.sleep(0.05)
    traffic.go_live(0.5, drift_after_s=0.2)
    deadline = time.monotonic() + 10
    while traffic.running and time.monotonic() < deadline:
        time.sleep(0.05)
    traffic.stop()
    s = traffic.stats
    assert s.error is None and not traffic.running
    txs = [r for topic, _, r in collect.sent if topic == "events.transactions"]
    assert isinstance(txs[0], Transaction) and len(txs) == s.transactions
    assert s.live_first is not None and traffic.history < s.live_first < traffic.drift_at < s.transactions  # type: ignore[operator]
    # no pause in event time, neither while the history was produced nor while the first model "trains": every gap
    # is a Poisson one at 2,000/s, and the stream caught up with the wall clock (a record is sent at its event time)
    ts = [t.ts for t in txs]  # type: ignore[union-attr]
    assert max(b - a for a, b in zip(ts[:-1], ts[1:], strict=True)) < 100
    assert s.history_last_ts is not None and s.history_last_ts < paced_from <= ts[s.live_first]
    # the drift starts at the transaction rate x drift_after_s after going live
    assert traffic.drift_at == s.live_first + 400 and s.live_started_ms is not None
    assert s.drift_onset_ms == ts[traffic.drift_at] > ts[s.live_first]
    reference = TransactionGenerator(dataclasses.replace(config, drift_at=traffic.drift_at))
    expected = [i.record for i in reference.events(len(txs)) if i.topic_kind == "transaction"]
    assert [t.amount for t in txs] == [e.amount for e in expected]  # type: ignore[union-attr]


def test_the_labels_of_the_last_transactions_still_go_out_after_the_end(tmp_path) -> None:
    now = int(time.time() * 1000)
    config = GeneratorConfig(
        start_ts=now - 1_000, seed=7, rate=2000, daily_cycle=False, legit_label_delay_s=0.2, fraud_label_delay_s=0.6
    )
    traffic = DemoTraffic(Settings(home=tmp_path, data_dir=tmp_path), config, history=1000)
    traffic.producer = collect = _Collect()  # type: ignore[assignment]
    traffic.produce_history()
    traffic.start_paced()
    traffic.go_live(0.5, drift_after_s=None, label_tail_s=1.0)
    deadline = time.monotonic() + 15
    while traffic.running and time.monotonic() < deadline:
        time.sleep(0.05)
    traffic.stop()
    assert traffic.stats.error is None and not traffic.running and traffic.ended
    assert not traffic.extend(10)  # the end has passed: no more transactions
    txs = [r for topic, _, r in collect.sent if topic == "events.transactions"]
    labels = [r for topic, _, r in collect.sent if topic == "labels.transactions"]
    assert all(t.ts <= traffic.end_ms for t in txs) and len(txs) == traffic.stats.transactions
    # exactly the generator's labels of the transactions sent that are due by the end of the tail: those after the
    # end of the transactions too (frauds' among them), none of a transaction never sent
    sent = {t.event_id for t in txs}
    reference = TransactionGenerator(config)
    expected = []
    for item in reference.events(None):
        if item.record.ts > traffic.labels_until_ms:
            break
        if item.topic_kind == "label" and item.record.event_id in sent:  # type: ignore[union-attr]
            expected.append(item.record)
    assert [(lb.event_id, lb.label) for lb in labels] == [(e.event_id, e.label) for e in expected]  # type: ignore[union-attr]
    late = [lb for lb in labels if lb.ts > traffic.end_ms]
    assert late and any(lb.label == 1 for lb in late), "labels due after the end went out"
    assert traffic.stats.labels == len(labels)

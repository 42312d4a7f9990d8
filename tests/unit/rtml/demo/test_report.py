"""The demo's summary: detection after the onset, the swap, and quality per phase."""

from __future__ import annotations

import json
from pathlib import Path

from rtml.demo.report import phases, plot, rolling_series, summarize
from rtml.demo.scoreboard import Outcome, Scoreboard
from schemas.drift import DriftEvent
from schemas.model_update import ModelUpdate
from schemas.prediction import Prediction


def drift(ts: int, detector: str = "psi") -> DriftEvent:
    return DriftEvent(
        model="fraud",
        detector=detector,
        feature="amount",
        statistic=0.4,
        threshold=0.25,
        window_start=ts - 1000,
        window_end=ts,
        severity="critical",
        ts=ts,
        drift_id=f"d{ts}",
    )


def board_with_a_swap() -> Scoreboard:
    board = Scoreboard()
    for i in range(3000):
        ts = 10_000 + i * 10
        version = "1" if ts < 30_000 else "2"
        board.prediction(
            Prediction(
                event_id=f"e{i}",
                model="fraud",
                version=version,
                score=0.2,
                label=0,
                features={},
                ts=ts,
                scored_at=ts + 5,
            ),
            ts + 6,
        )
    board.first_scored["2"] = 30_000
    board.drift(drift(15_000), 15_100)  # a false alarm: before the onset
    board.drift(drift(21_000), 21_050)
    board.update(
        ModelUpdate(
            model="fraud",
            version="2",
            alias="champion",
            artifact_uri="file:///m",
            sha256="b" * 64,
            ts=29_000,
            previous_version="1",
        ),
        29_500,
    )
    board.outcomes = [Outcome(10_000 + i * 10, "1" if i < 2000 else "2", 0.2, 0, int(i % 50 == 0)) for i in range(3000)]
    return board


def test_summary_measures_detection_and_swap_from_the_onset(tmp_path: Path) -> None:
    board = board_with_a_swap()
    s = summarize(board, live_started_ms=10_000, drift_onset_ms=20_000, transactions=3000, live_rate=100.0)
    assert s.false_alarms == 1 and s.drift_events == 2
    assert s.detection_ms == 21_000 and s.detection_delay_s == 1.0 and s.detection_delay_events == 100
    assert s.new_version == "2" and s.swap_ms == 30_000
    assert s.detection_to_serving_s == (30_000 - 21_050) / 1000
    assert s.quality["before"]["n"] == 1000 and s.quality["during"]["n"] == 1000 and s.quality["after"]["n"] == 1000
    assert json.loads(s.to_json())["detection"]["drift_id"] == "d21000"
    png = plot(board, s, tmp_path / "r" / "demo.png", window=500)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_a_drift_event_after_the_onset_nothing_is_detected() -> None:
    board = Scoreboard()
    board.drift(drift(5_000), 5_000)
    s = summarize(board, live_started_ms=0, drift_onset_ms=10_000, transactions=0, live_rate=100.0)
    assert s.detection_ms is None and s.false_alarms == 1 and s.new_version is None


def test_phases_split_by_onset_and_version() -> None:
    outcomes = [Outcome(1, "1", 0.1, 0, 0), Outcome(5, "1", 0.1, 0, 0), Outcome(6, "2", 0.1, 0, 0)]
    split = phases(outcomes, 5, "2")
    assert [len(split[k]) for k in ("before", "during", "after")] == [1, 1, 1]


def test_rolling_series_needs_a_full_window() -> None:
    outcomes = [Outcome(i, "1", i / 100, int(i > 50), int(i > 50)) for i in range(100)]
    ts, acc, auc = rolling_series(outcomes, 200)
    assert len(ts) == 0
    ts, acc, auc = rolling_series(outcomes, 60, points=5)
    assert ts[-1] == 99 and acc[-1] == 1.0 and auc[-1] == 1.0


def test_latency_is_the_live_parts_not_the_backlog_the_scorer_found_at_start() -> None:
    board = Scoreboard()
    for i in range(400):
        ts = 10_000 + i * 10  # the first 200 events came while the scorer started: it scored them at 12,000
        scored_at = max(ts + 5, 12_000)
        board.prediction(
            Prediction(
                event_id=f"e{i}",
                model="fraud",
                version="1",
                score=0.2,
                label=0,
                features={},
                ts=ts,
                scored_at=scored_at,
            ),
            scored_at + 1,
        )
    s = summarize(board, live_started_ms=12_000, drift_onset_ms=None, transactions=400, live_rate=100.0)
    assert s.latency_ms == {"p50": 5.0, "p99": 5.0, "max": 5.0}
    everything = summarize(board, live_started_ms=0, drift_onset_ms=None, transactions=400, live_rate=100.0)
    assert everything.latency_ms["max"] == 2000.0

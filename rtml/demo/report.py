"""The demo's summary (drift onset vs detection, detection to new champion serving, quality before the drift,
during it and after the swap) and its plot (rolling accuracy and ROC-AUC over event time, with markers)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rtml.demo.scoreboard import Outcome, Quality, Scoreboard, quality


@dataclass
class DemoSummary:
    live_started_ms: int
    drift_onset_ms: int | None
    transactions: int
    predictions: int
    outcomes: int
    initial_version: str | None
    detection_ms: int | None = None  # event time of the first drift event at or after the onset
    detection_arrived_ms: int | None = None  # wall time it reached a subscriber
    detection: dict[str, object] | None = None
    detection_delay_s: float | None = None
    detection_delay_events: int | None = None  # transactions produced between onset and detection (rate x delay)
    false_alarms: int = 0  # drift events before the onset
    drift_events: int = 0
    new_version: str | None = None
    promoted_arrived_ms: int | None = None
    swap_ms: int | None = None  # wall time of the new champion's first prediction
    detection_to_serving_s: float | None = None
    quality: dict[str, dict[str, float]] = field(default_factory=dict)  # before / during / after
    latency_ms: dict[str, float] = field(default_factory=dict)  # event time -> prediction produced: p50, p99
    bank_changes: dict[str, int] = field(default_factory=dict)  # committed to PostgreSQL while live, by kind

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=_nan_to_none)


def _nan_to_none(value: object) -> object:
    return None if isinstance(value, float) and math.isnan(value) else str(value)


def _q(q: Quality) -> dict[str, float]:
    return {
        "n": q.n,
        "positives": q.positives,
        "accuracy": q.accuracy,
        "roc_auc": q.roc_auc,
        "roc_auc_se": q.roc_auc_se,
        "precision": q.precision,
        "recall": q.recall,
    }


def summarize(
    board: Scoreboard, *, live_started_ms: int, drift_onset_ms: int | None, transactions: int, live_rate: float
) -> DemoSummary:
    first_version = next(iter(board.first_scored), None)
    summary = DemoSummary(
        live_started_ms=live_started_ms,
        drift_onset_ms=drift_onset_ms,
        transactions=transactions,
        predictions=board.predictions,
        outcomes=len(board.outcomes),
        initial_version=first_version,
        drift_events=len(board.drifts),
    )
    # the live part's: the events that came while the scorer started (the stream never pauses) wait for it
    latencies = [latency for ts, latency in board.latencies_ms if ts >= live_started_ms]
    if latencies:
        p50, p99 = np.percentile(latencies, [50, 99])
        summary.latency_ms = {"p50": float(p50), "p99": float(p99), "max": float(max(latencies))}
    onset = drift_onset_ms if drift_onset_ms is not None else math.inf
    summary.false_alarms = sum(1 for _, d in board.drifts if d.ts < onset)
    after = [(arrived, d) for arrived, d in board.drifts if d.ts >= onset]
    if after:
        arrived, first = after[0]
        summary.detection_ms, summary.detection_arrived_ms = first.ts, arrived
        summary.detection = {
            "detector": first.detector,
            "feature": first.feature,
            "kind": first.kind,
            "statistic": first.statistic,
            "threshold": first.threshold,
            "severity": first.severity,
            "drift_id": first.drift_id,
        }
        if drift_onset_ms is not None:
            summary.detection_delay_s = max(0.0, (first.ts - drift_onset_ms) / 1000)
            summary.detection_delay_events = round(summary.detection_delay_s * live_rate)
    promoted = [
        (arrived, u)
        for arrived, u in board.updates
        if u.alias == "champion"
        and u.action == "promoted"
        and u.version != first_version
        and (summary.detection_arrived_ms is None or arrived >= summary.detection_arrived_ms)
    ]
    if promoted:
        summary.promoted_arrived_ms, update = promoted[0]
        summary.new_version = update.version
        summary.swap_ms = board.first_scored.get(update.version)
        if summary.swap_ms is not None and summary.detection_arrived_ms is not None:
            summary.detection_to_serving_s = (summary.swap_ms - summary.detection_arrived_ms) / 1000
    summary.quality = {
        name: _q(quality(part)) for name, part in phases(board.outcomes, drift_onset_ms, summary.new_version).items()
    }
    return summary


def phases(outcomes: list[Outcome], onset_ms: int | None, new_version: str | None) -> dict[str, list[Outcome]]:
    """``before`` the onset; ``during``: after it, scored by an old version; ``after``: by the new champion."""
    onset = onset_ms if onset_ms is not None else math.inf
    return {
        "before": [o for o in outcomes if o.event_ts < onset],
        "during": [o for o in outcomes if o.event_ts >= onset and o.version != new_version],
        "after": [o for o in outcomes if new_version is not None and o.version == new_version],
    }


def rolling_series(outcomes: list[Outcome], window: int, points: int = 200) -> tuple[np.ndarray, ...]:
    """(event ts, accuracy, ROC-AUC) of the last ``window`` outcomes in event-time order, at ``points`` ends."""
    ordered = sorted(outcomes, key=lambda o: o.event_ts)
    if len(ordered) < window:
        return np.array([]), np.array([]), np.array([])
    ends = np.unique(np.linspace(window, len(ordered), num=min(points, len(ordered) - window + 1)).astype(int))
    ts, acc, auc = [], [], []
    for end in ends:
        q = quality(ordered[end - window : end])
        ts.append(ordered[end - 1].event_ts)
        acc.append(q.accuracy)
        auc.append(q.roc_auc)
    return np.array(ts), np.array(acc), np.array(auc)


def plot(board: Scoreboard, summary: DemoSummary, path: Path, window: int = 2000) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = summary.live_started_ms
    ts, acc, auc = rolling_series(board.outcomes, window)
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=110)
    if len(ts):
        x = (ts - t0) / 1000
        ax.plot(x, acc, label=f"accuracy (last {window:,} labelled)", color="tab:blue")
        ax.plot(x, auc, label="ROC-AUC", color="tab:green")
    markers = [
        (summary.drift_onset_ms, "drift onset", "tab:red"),
        (summary.detection_ms, "detected", "tab:orange"),
        (summary.swap_ms, f"v{summary.new_version} serving" if summary.new_version else "swap", "tab:purple"),
    ]
    for at, name, color in markers:
        if at is not None:
            ax.axvline((at - t0) / 1000, color=color, linestyle="--", linewidth=1.2, label=name)
    ax.set_xlabel("event time since live traffic began (s)")
    ax.set_ylabel("rolling quality")
    ax.set_ylim(0.0, 1.01)  # ROC-AUC falls below 0.5 when the drift turns the model around
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("rtml demo: drift, detection, retraining and hot swap")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path

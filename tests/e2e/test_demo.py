"""The closed loop at small scale, as a user runs it: ``rtml demo`` starts everything, trains a first model,
streams traffic that drifts part-way; the monitor emits a drift event, the trigger retrains, the gate
promotes, the scorer hot-swaps, and quality after the swap is back near where it was before the drift."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rtml.settings import Settings
from rtml.stack.ports import free_port
from tests.support.cli import run_rtml
from tests.support.draining import read_topic
from tests.support.services import isolated_settings, settings_env

pytestmark = pytest.mark.e2e

METRICS_PORTS = (
    "RTML_ONLINE_MATERIALIZER_METRICS_PORT",
    "RTML_OFFLINE_MATERIALIZER_METRICS_PORT",
    "RTML_SCORER_METRICS_PORT",
    "RTML_MONITOR_METRICS_PORT",
    "RTML_TRIGGER_METRICS_PORT",
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, subprocess.CompletedProcess[str]]]:
    settings = isolated_settings(tmp_path_factory.mktemp("demo"))
    env = {**settings_env(settings), **{name: str(free_port()) for name in METRICS_PORTS}}
    try:
        run = run_rtml(
            env,
            "demo",
            "--duration", "240",
            "--rate", "100",
            "--history", "30000",
            "--drift-after", "50",
            "--seed", "11",
            timeout=1500,
        )  # fmt: skip
        yield settings, run
    finally:
        run_rtml(env, "down", timeout=180)


def summary(settings: Settings) -> tuple[dict[str, Any], Path]:
    reports = sorted((settings.state_dir / "reports").glob("demo-*.json"))
    assert reports, "the demo wrote no report"
    return json.loads(reports[-1].read_text()), reports[-1].with_suffix(".png")


def test_the_demo_detects_the_drift_retrains_and_swaps(demo: tuple[Settings, subprocess.CompletedProcess[str]]) -> None:
    settings, run = demo
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    s, png = summary(settings)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "rtml demo: summary" in run.stdout

    # the drift is detected after its onset, quickly
    assert s["drift_onset_ms"] is not None and s["detection_ms"] is not None, s
    assert s["detection_ms"] >= s["drift_onset_ms"]
    assert s["detection_delay_s"] < 30, s["detection"]

    # a retrained version took over, and its lineage names a drift event the monitor emitted
    assert s["new_version"] is not None and s["new_version"] != s["initial_version"], s
    from training.registry import ModelRegistry

    version = ModelRegistry.from_settings(settings).get("fraud", s["new_version"])
    drifts = {d.drift_id: d for d in read_topic(settings, "monitoring.drift")}
    assert version.trigger in drifts and drifts[version.trigger].ts >= s["drift_onset_ms"]
    # the stationary first phase (5,000 events) retrains nothing: no event there reaches the trigger's severity
    before = [d for d in drifts.values() if d.ts < s["drift_onset_ms"]]
    assert all(d.severity != "critical" for d in before), before

    # versions change at batch boundaries, in order: never back to an older one once a newer one scored
    predictions = [p for p in read_topic(settings, "predictions.fraud") if not p.shadow]
    versions = [int(p.version) for p in sorted(predictions, key=lambda p: (p.scored_at, int(p.version)))]
    assert versions == sorted(versions) and int(s["new_version"]) in versions
    assert len({p.event_id for p in predictions}) == len(predictions)  # no crash here, so no duplicate either

    # quality recovers: after the swap, within a few points of before the drift
    before, after = s["quality"]["before"], s["quality"]["after"]
    assert after["n"] >= 1000, s["quality"]
    assert after["roc_auc"] >= before["roc_auc"] - 0.05, s["quality"]
    assert after["accuracy"] >= before["accuracy"] - 0.02, s["quality"]

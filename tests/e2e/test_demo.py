"""The closed loop at small scale, as a user runs it: ``rtml demo`` starts everything, trains a first model,
streams traffic that drifts part-way; the monitor emits a drift event, the trigger retrains, the gate
promotes, the scorer hot-swaps, and quality after the swap is back near where it was before the drift."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from urllib.request import urlopen

import pytest

from rtml.settings import Settings
from rtml.stack.ports import free_port
from tests.support.cli import run_rtml
from tests.support.draining import read_topic
from tests.support.services import isolated_settings, postgres_reachable_dir, settings_env

pytestmark = pytest.mark.e2e

METRICS_PORTS = (
    "RTML_ONLINE_MATERIALIZER_METRICS_PORT",
    "RTML_OFFLINE_MATERIALIZER_METRICS_PORT",
    "RTML_SCORER_METRICS_PORT",
    "RTML_MONITOR_METRICS_PORT",
    "RTML_TRIGGER_METRICS_PORT",
)


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[Settings, subprocess.CompletedProcess[str]]]:
    with postgres_reachable_dir("rtml-demo-") as data_dir:  # the bank database's server may run as `postgres`
        yield from _demo(isolated_settings(data_dir))


def _demo(settings: Settings) -> Iterator[tuple[Settings, subprocess.CompletedProcess[str]]]:
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
        print(run.stdout[-3000:])  # the demo's summary table (shown with -s, or on a failure)
        yield settings, run
    finally:
        run_rtml(env, "down", timeout=180)


def summary(settings: Settings) -> tuple[dict[str, Any], Path]:
    reports = sorted((settings.state_dir / "reports").glob("demo-*.json"))
    assert reports, "the demo wrote no report"
    return json.loads(reports[-1].read_text()), reports[-1].with_suffix(".png")


def loop_log(settings: Settings, lines: int = 30) -> str:
    """The trigger's and the monitor's last log lines: why a retrain did not happen or was not promoted. The
    trigger's re-checks of a pending drift ("still pending") are left out: they repeat every few seconds."""
    parts = []
    for job in ("trigger", "monitor"):
        path = settings.state_dir / "logs" / f"job-{job}.log"
        text = path.read_text(errors="replace").splitlines() if path.is_file() else ["(no log)"]
        text = [line for line in text if "still pending" not in line][-lines:]
        parts.append(f"--- {path.name} ---\n" + "\n".join(text))
    return "\n".join(parts)


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
    assert s["new_version"] is not None and s["new_version"] != s["initial_version"], f"{s}\n{loop_log(settings)}"
    from training.registry import ModelRegistry

    version = ModelRegistry.from_settings(settings).get("fraud", s["new_version"])
    drifts = {d.drift_id: d for d in read_topic(settings, "monitoring.drift")}
    assert version.trigger in drifts and drifts[version.trigger].ts >= s["drift_onset_ms"]
    # the first phase retrains nothing: no event there of a kind the demo's trigger acts on (feature, performance:
    # the score shifts before the onset, with the 1 h / 24 h counts, see DEMO_ENVIRONMENT) reaches its severity
    before = [d for d in drifts.values() if d.ts < s["drift_onset_ms"] and d.kind in ("feature", "performance")]
    assert all(d.severity != "critical" for d in before), before

    # versions change at batch boundaries, in order: never back to an older one once a newer one scored
    predictions = [p for p in read_topic(settings, "predictions.fraud") if not p.shadow]
    versions = [int(p.version) for p in sorted(predictions, key=lambda p: (p.scored_at, int(p.version)))]
    assert versions == sorted(versions) and int(s["new_version"]) in versions
    assert len({p.event_id for p in predictions}) == len(predictions)  # no crash here, so no duplicate either

    # quality recovers: the new champion ranks frauds far better than the drifted old one does (two standard errors
    # of the two phases' ROC-AUCs), and accuracy is back within 2 points of its pre-drift level (the issue's aim).
    # Against the pre-drift ROC-AUC only a wide bound (three standard errors, never under 0.05): a phase holds a few
    # dozen frauds, and after the drift their mix holds a new pattern (card testing), so the two phases' ROC-AUCs
    # differ by chance and by what is being ranked; the bound still fails a retrain that ranks at random
    before, during, after = s["quality"]["before"], s["quality"]["during"], s["quality"]["after"]
    # on a failure: the phases, and the trigger's account of the retrain (which drifts, from when, how many labels)
    why = f"{json.dumps(s['quality'], indent=1)}\nonset {s['drift_onset_ms']}\n{loop_log(settings)}"
    assert after["n"] >= 1000, why
    recovered = during["roc_auc"] + 2 * math.hypot(during["roc_auc_se"], after["roc_auc_se"])
    assert after["roc_auc"] > recovered, why
    chance = 3 * math.hypot(before["roc_auc_se"], after["roc_auc_se"])
    assert after["roc_auc"] >= before["roc_auc"] - max(0.05, chance), why
    assert after["accuracy"] >= before["accuracy"] - 0.02, why


def test_the_bank_database_flows_through_cdc_into_the_model(
    demo: tuple[Settings, subprocess.CompletedProcess[str]],
) -> None:
    """The demo's bank changes went through PostgreSQL -> Debezium -> Flink: Redis holds every open customer's
    profile as PostgreSQL holds it now (a closed one has none), both models trained on the CDC views' offline
    rows, and the scorer read them for nearly every event."""
    from feature_pipelines.offline.tables import view_layout
    from feature_pipelines.online.registry import open_store
    from feature_pipelines.repository import customer_limit_usage, customer_profile
    from rtml.datagen.bank import bank_rows
    from rtml.datagen.config import GeneratorConfig
    from rtml.stack.postgres import PostgresService
    from training.registry import ModelRegistry

    settings, run = demo
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    s, _ = summary(settings)
    changes = s["bank_changes"]
    assert changes.get("credit_limit", 0) > 50 and changes.get("closure", 0) > 0, changes

    rows = {r.id: r for r in PostgresService(settings).customers()}
    s_ = settings
    seeded = bank_rows(
        GeneratorConfig(start_ts=0, seed=s_.bank_seed, n_customers=s_.bank_customers, n_merchants=s_.bank_merchants)
    )[0]
    closed = [r.id for r in seeded if r.id not in rows]
    changed = [r.id for r in seeded if r.id in rows and rows[r.id].credit_limit != r.credit_limit]
    assert len(closed) == changes["closure"] and changed, (len(closed), len(changed))
    store = open_store(settings.redis)
    profile = store.get(customer_profile, [*rows, *closed])
    limits = dict(zip(profile.entity_ids, profile.values[:, 0].tolist(), strict=True))
    stale = {c: (limits[c], rows[c].credit_limit) for c in rows if limits[c] != rows[c].credit_limit}
    assert not stale, f"{len(stale)} profiles in Redis differ from PostgreSQL, e.g. {list(stale.items())[:3]}"
    assert not profile.found[len(rows) :].any(), "a closed customer's profile is still in Redis"

    registry = ModelRegistry.from_settings(settings)
    for version in (s["initial_version"], s["new_version"]):
        trained_on = registry.get("fraud", version).delta_versions
        for view in (customer_profile, customer_limit_usage):
            assert view_layout(view).table in trained_on, (version, sorted(trained_on))
    live = [p for p in read_topic(settings, "predictions.fraud") if not p.shadow and p.ts >= s["live_started_ms"]]
    without = sum("customer_profile" in p.features_missing for p in live)
    assert live and without <= 0.01 * len(live), f"{without} of {len(live)} live predictions lacked a profile"
    usage = [p.features.get("customer_limit_usage__max_amount_to_limit_1h") for p in live]
    assert sum(u is not None and u > 0 for u in usage) >= 0.5 * len(live)


def prometheus_api(url: str) -> Any:
    with urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


# Series the demo's components write whatever happens (labelled ones that count failures appear only on a failure).
LIVE_SERIES = (
    'up{job="rtml"}',
    "ml_model_accuracy",
    "ml_feature_psi",
    "ml_prediction_latency_bucket",
    "rtml_materializer_lag_records",
    "rtml_offline_lag_records",
    "rtml_feature_freshness_seconds_bucket",
    "ml_retrain_in_progress",
    'ml_retrain_runs_total{outcome="promoted"}',
)


def test_prometheus_runs_the_alert_rules_on_the_demos_live_series(
    demo: tuple[Settings, subprocess.CompletedProcess[str]],
) -> None:
    settings, _ = demo
    api = f"{settings.prometheus_url}/api/v1"
    groups = prometheus_api(f"{api}/rules")["groups"]
    rules = {rule["name"]: rule for group in groups for rule in group["rules"]}
    assert {"ModelAccuracyDegraded", "FeatureDriftDetected", "PredictionLatencyHigh"} <= set(rules), sorted(rules)
    unhealthy = {name: rule.get("lastError") for name, rule in rules.items() if rule["health"] != "ok"}
    assert not unhealthy, unhealthy  # every rule evaluated against the live series without an error
    empty = [q for q in LIVE_SERIES if not prometheus_api(f"{api}/query?{urlencode({'query': q})}")["result"]]
    assert not empty, f"no live series for {empty}"


def test_every_dashboard_query_returns_series_on_the_demos_live_data(
    demo: tuple[Settings, subprocess.CompletedProcess[str]],
) -> None:
    """Each panel's and annotation's query as Grafana would send it (variables filled in) over the last 15 minutes,
    and each query variable's label values, through Prometheus' HTTP API: all return series."""
    import re
    import time

    settings, _ = demo
    api = f"{settings.prometheus_url}/api/v1"
    values = {"$model": "fraud", "$view": ".*", "$__rate_interval": "1m"}
    end = time.time()
    empty = []
    for path in sorted((Path(__file__).resolve().parents[2] / "infra" / "grafana" / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        for variable in board["templating"].get("list", []):
            metric, label = re.fullmatch(r"label_values\((\w+), (\w+)\)", variable["query"]).groups()  # type: ignore[union-attr]
            if not prometheus_api(f"{api}/label/{label}/values?{urlencode({'match[]': metric})}"):
                empty.append((path.stem, variable["query"]))
        panels = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
        for expr in panels + [a["expr"] for a in board["annotations"].get("list", []) if "expr" in a]:
            query = re.sub(r"\$\w+", lambda m: values[m.group(0)], expr)
            window = {"query": query, "start": end - 900, "end": end, "step": 15}
            if not prometheus_api(f"{api}/query_range?{urlencode(window)}")["result"]:
                empty.append((path.stem, query))
    assert not empty, f"queries without series on live data: {empty}"

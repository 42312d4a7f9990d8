"""The alert rules in infra/prometheus/rules: valid (`promtool check rules`), each one fired and held silent by
synthetic series (`promtool test rules`), and naming only metrics that some component exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.prometheus_names import PROMETHEUS_OWN, exported_series, metric_names

ROOT = Path(__file__).resolve().parents[3]
RULES = sorted((ROOT / "infra" / "prometheus" / "rules").glob("*.yml"))
RULE_TESTS = sorted((ROOT / "infra" / "prometheus" / "tests").glob("*.test.yml"))


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: scripts/setup installs it with Debian's prometheus package"
    return path


def alerts(path: Path) -> list[dict[str, object]]:
    return [rule for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"] if "alert" in rule]


def test_there_are_rules_and_tests_for_them() -> None:
    assert RULES and RULE_TESTS


@pytest.mark.parametrize("path", RULES, ids=lambda p: p.name)
def test_promtool_check_rules(path: Path) -> None:
    done = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", RULE_TESTS, ids=lambda p: p.name)
def test_promtool_test_rules(path: Path) -> None:
    done = subprocess.run(
        [promtool(), "test", "rules", path.name], cwd=path.parent, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_is_unit_tested() -> None:
    named = {rule["alert"] for path in RULES for rule in alerts(path)}
    tested = {
        case["alertname"]
        for path in RULE_TESTS
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")  # a test that expects it to fire, not only to stay silent
    }
    assert named - tested == set(), f"alerts no test makes fire: {sorted(named - tested)}"


def test_the_name_extraction_sees_selectors_ranges_and_skips_label_values() -> None:
    expr = 'sum by (le) (rate(rtml_a_bucket{topic="rtml_not_a_metric"}[5m])) > 0 and up{job="x"} == 0 and ml_b > 1'
    assert metric_names(expr) == {"rtml_a_bucket", "ml_b", "up"}


def test_no_rule_names_a_metric_that_nothing_exports() -> None:
    exported = exported_series()
    assert "ml_prediction_latency_bucket" in exported and "ml_retrain_runs_total" in exported
    dangling = {
        (rule["alert"], name)
        for path in RULES
        for rule in alerts(path)
        for name in metric_names(str(rule["expr"]))
        if name not in exported and name not in PROMETHEUS_OWN
    }
    assert dangling == set(), f"rules read series no component exports: {sorted(dangling)}"


def test_docs_metrics_lists_every_exported_series() -> None:
    page = (ROOT / "docs" / "metrics.md").read_text()
    listed = set(re.findall(r"^\| `((?:ml|rtml)_[a-z0-9_]+)`", page, flags=re.MULTILINE))
    series = exported_series()
    exported = {name for name in series if name.startswith(("ml_", "rtml_"))}
    exported -= {n for n in exported if n.endswith(("_bucket", "_count", "_sum"))}  # a histogram is listed by name
    histograms = {n[: -len("_bucket")] for n in series if n.endswith("_bucket")}
    documented = exported | histograms
    missing, extra = sorted(documented - listed), sorted(listed - documented)
    assert not missing and not extra, f"missing from docs/metrics.md: {missing}; listed but not exported: {extra}"

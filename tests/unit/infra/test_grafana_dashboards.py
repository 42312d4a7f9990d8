"""The Grafana dashboards in infra/grafana: the committed JSON is what build_dashboards.py builds, it parses into
Grafana's dashboard model (grafana-foundation-sdk), the issue's panels and variables are there, and every query
reads only series some component exports. The demo's end-to-end test runs the same queries on live data."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.support.prometheus_names import exported_series, metric_names

ROOT = Path(__file__).resolve().parents[3]
GRAFANA = ROOT / "infra" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))


def builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_dashboards", GRAFANA / "build_dashboards.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def queries(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression: panel targets (rows' nested panels too), annotations and query variables."""
    panels = [p for top in dashboard["panels"] for p in [top, *top.get("panels", [])]]
    exprs = [t["expr"] for p in panels for t in p.get("targets", []) if "expr" in t]
    exprs += [a["expr"] for a in dashboard.get("annotations", {}).get("list", []) if "expr" in a]
    exprs += [v["query"] for v in dashboard.get("templating", {}).get("list", []) if v.get("type") == "query"]
    return exprs


def test_the_committed_json_is_what_the_builder_builds() -> None:
    built = builder().render()
    assert sorted(built) == [p.name for p in DASHBOARDS], "run `python infra/grafana/build_dashboards.py`"
    for path in DASHBOARDS:
        assert path.read_text() == built[path.name], (
            f"{path.name} is stale: run `python infra/grafana/build_dashboards.py`"
        )


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_each_dashboard_parses_into_grafanas_model(path: Path) -> None:
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.cog.plugins import register_default_plugins
    from grafana_foundation_sdk.models import stat, timeseries
    from grafana_foundation_sdk.models.dashboard import Dashboard, Panel, RowPanel

    register_default_plugins()
    raw = json.loads(path.read_text())
    model = Dashboard.from_json(raw)
    assert model.uid == raw["uid"] and model.title == raw["title"]
    assert model.panels and all(isinstance(p, Panel | RowPanel) for p in model.panels)
    for panel in (p for p in model.panels if isinstance(p, Panel)):
        assert panel.type_val in ("timeseries", "stat"), panel.type_val
        options = timeseries.Options if panel.type_val == "timeseries" else stat.Options
        assert panel.options is None or isinstance(panel.options, options)
        assert panel.targets and panel.grid_pos is not None and panel.grid_pos.w > 0
        assert len({t.ref_id for t in panel.targets}) == len(panel.targets)  # distinct refIds: Grafana keys by them
    again = json.loads(JSONEncoder(sort_keys=True).encode(model))  # through the model and back: nothing lost
    assert queries(again) == queries(raw) and again["templating"] == raw["templating"]
    keep = ("title", "type", "gridPos", "datasource")
    assert [{k: p.get(k) for k in keep} for p in again["panels"]] == [
        {k: p.get(k) for k in keep} for p in raw["panels"]
    ]


def test_the_issues_dashboards_panels_and_variables_are_there() -> None:
    boards = {p.stem: json.loads(p.read_text()) for p in DASHBOARDS}
    assert set(boards) == {"overview", "features", "model", "platform"}
    titles = {name: " | ".join(p["title"] for p in b["panels"]) for name, b in boards.items()}
    for name, wanted in {
        "overview": ("Events consumed", "Predictions", "end to end", "Dead letters", "lag"),
        "features": ("Freshness", "Rows", "Late rows", "PSI per feature"),
        "model": ("Accuracy", "ROC-AUC", "Score distribution", "Serving version", "Drift events", "Retraining"),
        "platform": ("Up", "CPU", "memory", "Consumer lag", "Checkpoints", "Backpressure", "Redis memory", "Redis ops"),
    }.items():
        missing = [w for w in wanted if w not in titles[name]]
        assert not missing, (name, missing)
    variables = {name: {v["name"] for v in b["templating"].get("list", [])} for name, b in boards.items()}
    assert "model" in variables["model"] and "model" in variables["overview"] and "view" in variables["features"]
    annotations = [a["name"] for a in boards["model"]["annotations"]["list"]]
    assert "drift events" in annotations and "retrainings" in annotations


def test_no_query_reads_a_series_nothing_exports() -> None:
    exported = exported_series()
    dangling = {
        (path.stem, name)
        for path in DASHBOARDS
        for expr in queries(json.loads(path.read_text()))
        for name in metric_names(expr)
        if name not in exported and name != "up"
    }
    assert dangling == set(), f"dashboard queries read series no component exports: {sorted(dangling)}"


def test_the_provisioning_names_the_dashboards_data_source() -> None:
    source = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "rtml.yml").read_text())["datasources"][0]
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "rtml.yml").read_text())["providers"][0]
    assert source["type"] == "prometheus" and provider["type"] == "file"
    uids = {
        t["datasource"]["uid"]
        for path in DASHBOARDS
        for p in json.loads(path.read_text())["panels"]
        for t in p.get("targets", [])
    }
    assert uids == {source["uid"]}

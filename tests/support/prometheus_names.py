"""Which series the components export, and which series a PromQL expression reads: for the tests that keep the
alert rules, the dashboards and docs/metrics.md in step with the code."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

PROMETHEUS_OWN = {"up"}  # series Prometheus itself writes for every target
PROCESS = {"process_cpu_seconds_total", "process_resident_memory_bytes"}  # prometheus_client's process collector
METRIC_MODULES = (  # every module that defines the components' metrics
    "serving.metrics",
    "stream_jobs.drift.metrics",
    "training.trigger.metrics",
    "feature_pipelines.online.metrics",
    "feature_pipelines.offline.metrics",
    "rtml.kafka.metrics",
)


def metric_names(expr: str) -> set[str]:
    """The series an expression reads: our prefixes (label values in quotes removed first), ``up`` and the
    process collector's series."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    names = set(re.findall(r"\b((?:ml|rtml|kafka|redis|flink)_[a-zA-Z0-9_]+)", bare))
    selected = set(re.findall(r"\b([a-z_]+)\s*[{\[]", bare))
    return names | (selected & (PROMETHEUS_OWN | PROCESS))


def exported_series() -> set[str]:
    """Every series name the components' metric definitions produce (a counter's ``_total``, a histogram's
    ``_bucket``, ``_count`` and ``_sum``, an info's ``_info``), from prometheus_client's registry after importing
    them, plus the process collector's."""
    from prometheus_client import REGISTRY

    for module in METRIC_MODULES:
        importlib.import_module(module)
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "info": ("_info",)}
    ours = {family.name + s for family in REGISTRY.collect() for s in suffixes.get(family.type, ("",))}
    return ours | exporter_series() | FLINK_REPORTER


def exporter_series() -> set[str]:
    """The exporter's series (rtml/exporter), from its families over a view in which every kind of series occurs."""
    from rtml.exporter.__main__ import READ_DURATION
    from rtml.exporter.families import REDIS_FIELDS, kafka_families, redis_families
    from rtml.exporter.kafka import GroupView, KafkaView

    view = KafkaView(1, {"t": 1}, {("t", 0): 2}, {"g": GroupView("stable", 1, {("t", 0): 1})})
    info = {field: 1 for field in REDIS_FIELDS} | {"db0": {"keys": 1, "expires": 0}}
    suffixes = {"counter": "_total"}
    families = [*kafka_families(view), *redis_families(info)]
    return {f.name + suffixes.get(f.type, "") for f in families} | {READ_DURATION}


# The series Flink's Prometheus reporter serves for the feature job (a capture: Flink is not Python we import).
FLINK_REPORTER = {
    line
    for line in (Path(__file__).parent / "flink_reporter_series.txt").read_text().splitlines()
    if line and not line.startswith("#")
}

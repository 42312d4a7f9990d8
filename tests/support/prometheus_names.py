"""Which series the components export, and which series a PromQL expression reads: for the tests that keep the
alert rules, the dashboards and docs/metrics.md in step with the code."""

from __future__ import annotations

import importlib
import re

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
    names = set(re.findall(r"\b((?:ml|rtml)_[a-zA-Z0-9_]+)", bare))
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
    return {family.name + s for family in REGISTRY.collect() for s in suffixes.get(family.type, ("",))}

"""The Grafana dashboards, as code (grafana-foundation-sdk, Grafana 11.6's model).

`python infra/grafana/build_dashboards.py` writes infra/grafana/dashboards/*.json, which the provisioning in
infra/grafana/provisioning/ loads.

Every query reads only series the components export (docs/metrics.md); tests/unit/infra/test_grafana_dashboards.py
checks that, that the committed JSON is what this file builds and that it parses into Grafana's dashboard model, and
the demo's end-to-end test runs every query against the live Prometheus and requires series back.

Counters that only exist once something went wrong (dead letters, produce failures, failed retrains) are read with
``or vector(0)``: the panel shows 0, not "No data", while nothing failed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path

from grafana_foundation_sdk.builders import stat, timeseries
from grafana_foundation_sdk.builders.dashboard import AnnotationQuery, Dashboard, QueryVariable, Row
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import BigValueTextMode
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="rtml-prometheus")  # provisioning/datasources/rtml.yml
RATE = "$__rate_interval"
# Groups nobody reads with any more (members 0) are left out; the Flink job assigns partitions itself and reports
# its own lag.
GROUP_LAG = "sum by (consumergroup, topic) (kafka_consumergroup_lag_sum)"
ACTIVE_GROUP_LAG = f"{GROUP_LAG} and on (consumergroup) (kafka_consumergroup_members > 0)"
FLINK_SOURCE_LAG = "flink_taskmanager_job_task_operator_KafkaSourceReader_KafkaConsumer_records_lag_max"


def query(expr: str, legend: str = "") -> Dataquery:
    q = Dataquery().expr(expr).datasource(DATASOURCE)
    return q.legend_format(legend) if legend else q


def series(
    title: str, unit: str, queries: Iterable[Dataquery], *, span: int = 12, description: str = ""
) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).span(span).height(8).datasource(DATASOURCE)
    if description:
        panel = panel.description(description)
    for ref, q in zip("ABCDEFGH", queries, strict=False):
        panel = panel.with_target(q.ref_id(ref))
    return panel


def single(title: str, unit: str, expr: str, *, legend: str = "", span: int = 6) -> stat.Panel:
    """One number; with ``legend``, the series' name instead (e.g. the version label of an info metric)."""
    panel = stat.Panel().title(title).unit(unit).span(span).height(4).datasource(DATASOURCE)
    panel = panel.with_target(query(expr, legend).ref_id("A"))
    return panel.text_mode(BigValueTextMode.NAME) if legend else panel


def variable(name: str, label: str, metric: str, label_name: str, *, multi: bool = False) -> QueryVariable:
    v = (
        QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(f"label_values({metric}, {label_name})")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
    )
    return v.multi(True).include_all(True) if multi else v


def base(uid: str, title: str, description: str) -> Dashboard:
    return (
        Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["rtml"])
        .refresh("10s")
        .time("now-30m", "now")
        .timezone("browser")
        .editable()
    )


def overview() -> Dashboard:
    quantiles = [
        query(
            f"histogram_quantile({q}, sum by (le) (rate(rtml_scorer_end_to_end_latency_seconds_bucket"
            f'{{model="$model"}}[{RATE}])))',
            f"p{round(q * 100)}",
        )
        for q in (0.5, 0.95, 0.99)
    ]
    return (
        base("rtml-overview", "rtml / Overview", "Traffic, latency, dead letters and lag of the whole loop.")
        .with_variable(variable("model", "model", "rtml_scorer_predictions_total", "model"))
        .with_row(Row("Traffic"))
        .with_panel(
            series(
                "Events consumed / s",
                "reqps",
                [
                    query(
                        f"sum by (component, topic) (rate(rtml_records_consumed_total[{RATE}]))",
                        "{{component}} {{topic}}",
                    )
                ],
            )
        )
        .with_panel(
            series(
                "Predictions / s",
                "reqps",
                [
                    query(
                        f'sum by (version, role) (rate(rtml_scorer_predictions_total{{model="$model"}}[{RATE}]))',
                        "v{{version}} {{role}}",
                    )
                ],
            )
        )
        .with_row(Row("Latency"))
        .with_panel(
            series(
                "Event -> prediction acknowledged (end to end)",
                "s",
                quantiles,
                description="From the event's Kafka timestamp to its prediction acknowledged by the broker.",
            )
        )
        .with_panel(
            series(
                "Scorer: consume -> produce p99",
                "s",
                [
                    query(
                        "histogram_quantile(0.99, sum by (le) "
                        f'(rate(ml_prediction_latency_bucket{{model="$model"}}[{RATE}])))',
                        "p99",
                    )
                ],
            )
        )
        .with_row(Row("Dead letters and lag"))
        .with_panel(
            series(
                "Dead letters / s",
                "reqps",
                [
                    query(
                        f"sum by (component, topic, rule) (rate(rtml_dead_letters_total[{RATE}])) or vector(0)",
                        "{{component}} {{topic}} {{rule}}",
                    )
                ],
            )
        )
        .with_panel(
            series(
                "Consumer lag (records)",
                "short",
                [
                    query(ACTIVE_GROUP_LAG, "{{consumergroup}} {{topic}}"),
                    query(f"max by (job_name) ({FLINK_SOURCE_LAG})", "flink {{job_name}}"),
                    query("sum by (topic) (rtml_offline_lag_records)", "offline {{topic}}"),
                ],
                description="Every consumer group that has members (the exporter), the Flink job's sources (its "
                "reporter) and the offline store (its own offsets, kept in Delta).",
            )
        )
    )


def features() -> Dashboard:
    return (
        base("rtml-features", "rtml / Features", "Freshness, throughput and drift of the feature views.")
        .with_variable(variable("view", "view", "rtml_feature_freshness_seconds_bucket", "view", multi=True))
        .with_variable(variable("model", "model", "ml_feature_psi", "model"))
        .with_row(Row("Online store"))
        .with_panel(
            series(
                "Freshness: window end -> online store",
                "s",
                [
                    query(
                        f"histogram_quantile({q}, sum by (le, view) (rate(rtml_feature_freshness_seconds_bucket"
                        f'{{view=~"$view"}}[{RATE}])))',
                        f"{{{{view}}}} p{round(q * 100)}",
                    )
                    for q in (0.5, 0.99)
                ],
            )
        )
        .with_panel(
            series(
                "Rows / s",
                "rowsps",
                [
                    query(
                        f'sum by (view) (rate(rtml_materializer_rows_total{{view=~"$view"}}[{RATE}]))',
                        "online {{view}}",
                    ),
                    query(f"sum by (table) (rate(rtml_offline_rows_total[{RATE}]))", "offline {{table}}"),
                ],
            )
        )
        .with_panel(
            series(
                "Late rows / s (older than the row already stored)",
                "rowsps",
                [
                    query(
                        f'sum by (view) (rate(rtml_materializer_stale_rows_total{{view=~"$view"}}[{RATE}]))'
                        " or vector(0)",
                        "{{view}}",
                    )
                ],
                description="Rows the online materializer skipped because the store already held a newer window.",
            )
        )
        .with_row(Row("Drift"))
        .with_panel(
            series(
                "PSI per feature (last closed window)",
                "short",
                [query('ml_feature_psi{model="$model"}', "{{feature}}")],
                description="Above 0.1 a warning, above 0.25 critical; FeatureDriftDetected fires after 1 h above 0.1.",
            )
        )
    )


def model() -> Dashboard:
    drift = (
        AnnotationQuery()
        .name("drift events")
        .datasource(DATASOURCE)
        .enable(True)
        .icon_color("orange")
        .expr('changes(ml_drift_events_total{model="$model"}[1m]) > 0')
    )
    retrain = (
        AnnotationQuery()
        .name("retrainings")
        .datasource(DATASOURCE)
        .enable(True)
        .icon_color("purple")
        .expr('changes(ml_retrain_runs_total{model="$model"}[1m]) > 0')
    )
    return (
        base("rtml-model", "rtml / Model", "Live quality from late labels, score drift, versions and retraining.")
        .with_variable(variable("model", "model", "ml_model_accuracy", "model"))
        .annotation(drift)
        .annotation(retrain)
        .with_row(Row("Quality (late labels)"))
        .with_panel(single("Accuracy", "percentunit", 'ml_model_accuracy{model="$model"}'))
        .with_panel(single("ROC-AUC", "short", 'ml_model_roc_auc{model="$model"}'))
        .with_panel(single("Precision", "percentunit", 'ml_model_precision{model="$model"}'))
        .with_panel(
            single(
                "Serving version",
                "none",
                'max by (version) (rtml_scorer_model_info{model="$model", role="champion"})',
                legend="v{{version}}",
            )
        )
        .with_panel(
            series(
                "Rolling quality",
                "short",
                [
                    query('ml_model_accuracy{model="$model"}', "accuracy"),
                    query('ml_model_roc_auc{model="$model"}', "ROC-AUC"),
                    query('ml_model_precision{model="$model"}', "precision"),
                ],
            )
        )
        .with_panel(
            series(
                "Score distribution: PSI against training",
                "short",
                [query('ml_prediction_psi{model="$model"}', "score PSI")],
            )
        )
        .with_row(Row("Versions, drift and retraining"))
        .with_panel(
            series(
                "Predictions / s by version",
                "reqps",
                [
                    query(
                        f'sum by (version, role) (rate(rtml_scorer_predictions_total{{model="$model"}}[{RATE}]))',
                        "v{{version}} {{role}}",
                    )
                ],
            )
        )
        .with_panel(
            series(
                "Drift events",
                "short",
                [
                    query(
                        f'sum by (kind, detector) (increase(ml_drift_events_total{{model="$model"}}[{RATE}]))'
                        " or vector(0)",
                        "{{kind}} {{detector}}",
                    )
                ],
            )
        )
        .with_panel(
            series(
                "Retraining",
                "short",
                [
                    query(
                        f'sum by (outcome) (increase(ml_retrain_runs_total{{model="$model"}}[{RATE}])) or vector(0)',
                        "{{outcome}}",
                    ),
                    query('ml_retrain_in_progress{model="$model"}', "in progress"),
                ],
            )
        )
        .with_panel(
            series(
                "Drift -> new champion",
                "s",
                [query('ml_retrain_last_drift_to_champion_seconds{model="$model"}', "last")],
            )
        )
    )


def platform() -> Dashboard:
    return (
        base(
            "rtml-platform",
            "rtml / Platform",
            "The processes (scrape health, CPU, memory), Kafka, the Flink job and Redis.",
        )
        .with_row(Row("Components"))
        .with_panel(series("Up", "short", [query('up{job="rtml"}', "{{component}}")]))
        .with_panel(
            series(
                "CPU (cores)",
                "short",
                [query(f'sum by (component) (rate(process_cpu_seconds_total{{job="rtml"}}[{RATE}]))', "{{component}}")],
            )
        )
        .with_panel(
            series(
                "Resident memory",
                "bytes",
                [query('sum by (component) (process_resident_memory_bytes{job="rtml"})', "{{component}}")],
            )
        )
        .with_panel(
            series(
                "Produce failures / s",
                "reqps",
                [
                    query(
                        f"sum by (component, topic) (rate(rtml_produce_failures_total[{RATE}])) or vector(0)",
                        "{{component}} {{topic}}",
                    )
                ],
            )
        )
        .with_row(Row("Kafka"))
        .with_panel(single("Kafka answers", "short", "min(kafka_up)", span=3))
        .with_panel(single("Brokers", "short", "max(kafka_brokers)", span=3))
        .with_panel(single("Consumer groups reading", "short", "count(kafka_consumergroup_members > 0)", span=6))
        .with_panel(
            series(
                "Records written / s per topic",
                "reqps",
                [query(f"sum by (topic) (rate(kafka_topic_partition_current_offset[{RATE}])) > 0", "{{topic}}")],
                description="From the end offsets (commit markers of transactional topics count too).",
            )
        )
        .with_panel(
            series(
                "Consumer lag per group (records)", "short", [query(ACTIVE_GROUP_LAG, "{{consumergroup}} {{topic}}")]
            )
        )
        .with_row(Row("Flink feature job"))
        .with_panel(
            series(
                "Checkpoints per 5 min",
                "short",
                [
                    query(
                        "sum by (job_name) (increase(flink_jobmanager_job_numberOfCompletedCheckpoints[5m]))",
                        "completed",
                    ),
                    query("sum by (job_name) (increase(flink_jobmanager_job_numberOfFailedCheckpoints[5m]))", "failed"),
                ],
                span=6,
            )
        )
        .with_panel(
            series(
                "Last checkpoint duration",
                "ms",
                [query("max by (job_name) (flink_jobmanager_job_lastCheckpointDuration)", "{{job_name}}")],
                span=6,
            )
        )
        .with_panel(
            series(
                "Backpressure (ms per s) per task",
                "ms",
                [
                    query(
                        "max by (task_name) (flink_taskmanager_job_task_backPressuredTimeMsPerSecond)", "{{task_name}}"
                    )
                ],
                span=6,
                description="1000: the task waits on the next one all the time; the busy panel shows the bottleneck.",
            )
        )
        .with_panel(
            series(
                "Busy (ms per s) per task",
                "ms",
                [query("max by (task_name) (flink_taskmanager_job_task_busyTimeMsPerSecond)", "{{task_name}}")],
                span=6,
            )
        )
        .with_panel(
            series(
                "Source lag and restarts",
                "short",
                [
                    query(f"max by (job_name) ({FLINK_SOURCE_LAG})", "lag (records)"),
                    query("max by (job_name) (flink_jobmanager_job_numRestarts)", "restarts"),
                ],
            )
        )
        .with_row(Row("Redis (online store)"))
        .with_panel(
            series(
                "Redis memory",
                "bytes",
                [
                    query("max(redis_memory_used_bytes)", "used"),
                    query("max(redis_memory_max_bytes) > 0", "maxmemory"),
                ],
                span=6,
            )
        )
        .with_panel(
            series(
                "Redis ops / s",
                "ops",
                [
                    query(f"sum(rate(redis_commands_processed_total[{RATE}]))", "commands"),
                    query(f"sum(rate(redis_keyspace_hits_total[{RATE}]))", "hits"),
                    query(f"sum(rate(redis_keyspace_misses_total[{RATE}]))", "misses"),
                ],
                span=6,
            )
        )
        .with_panel(
            series(
                "Redis keys and clients",
                "short",
                [query("sum(redis_db_keys)", "keys"), query("max(redis_connected_clients)", "clients")],
            )
        )
    )


DASHBOARDS = {"overview": overview, "features": features, "model": model, "platform": platform}


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    encoder = JSONEncoder(sort_keys=True, indent=2)
    return {f"{name}.json": encoder.encode(build().build()) + "\n" for name, build in DASHBOARDS.items()}


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        json.loads(text)
        (OUT / name).write_text(text)
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

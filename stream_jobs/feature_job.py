"""The streaming feature job: feature views compiled to Flink SQL, run on a local MiniCluster.

    python -m stream_jobs.feature_job [--views a,b] [--bounded] [--print-sql]

Checkpoints (every RTML_FLINK_CHECKPOINT_INTERVAL_S) commit the Kafka transactions of
``features.*`` and ``dlq.*``: readers at read_committed see each row exactly once. Checkpoints are
retained under ``<data>/flink/checkpoints``; a restarted job resumes from the newest one, so a crash
neither loses nor repeats output. ``--bounded`` reads up to the offsets current at start and ends
(tests, benchmarks).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from feature_pipelines.definitions import AnyView
from feature_pipelines.flink_sql import KafkaOptions, compile_feature_job
from rtml.settings import Settings, load_settings
from rtml.stack.process import alive

log = logging.getLogger("rtml.feature_job")


def checkpoint_dir(settings: Settings) -> Path:
    return settings.state_dir / "flink" / "checkpoints"


def flink_tmp_dir(settings: Settings) -> Path:
    """This process's temp dir for the MiniCluster (its working dirs, blobs, the RPC system's jar), under the
    data dir rather than /tmp: a killed job cannot clean up after itself, so each start removes the dirs of
    processes that are gone."""
    root = settings.state_dir / "flink" / "tmp"
    for old in root.glob("*"):
        if old.name.isdigit() and not alive(int(old.name)):
            shutil.rmtree(old, ignore_errors=True)
    mine = root / str(os.getpid())
    mine.mkdir(parents=True, exist_ok=True)
    return mine


def use_tmp_dir(tmp: Path) -> dict[str, str]:
    """Point the gateway JVM (started on PyFlink's first use, after this) at ``tmp``; the config entries that
    go with it."""
    os.environ["JVM_ARGS"] = f"{os.environ.get('JVM_ARGS', '')} -Djava.io.tmpdir={tmp}".strip()
    return {"io.tmp.dirs": str(tmp), "web.tmpdir": str(tmp)}


def latest_checkpoint(root: Path) -> Path | None:
    """The newest completed checkpoint (``chk-N/_metadata``) under ``root``, if any."""
    done = [m.parent for m in root.glob("*/chk-*/_metadata")]
    return max(done, key=lambda p: p.stat().st_mtime, default=None)


PROMETHEUS_REPORTER = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"
# What the reporter serves (<logical scope>:<names>): what the alert rules and dashboards read. Everything would
# be ~850 KB per scrape (per-operator metrics of every task), 30x this.
PROMETHEUS_INCLUDES = (
    "jobmanager.job:*Checkpoint*,numRestarts,uptime",
    "taskmanager.job.task:*PerSecond,isBackPressured",
    "taskmanager.job.task.operator*:records-lag-max,numRecordsInErrors",
    "*.Status.JVM.Memory.Heap:Used,Max",
    "*.Status.JVM.CPU:Load",
)


def plugins_dir(settings: Settings) -> Path:
    """Flink plugins (each in a folder of its own, own class loader): the Prometheus reporter."""
    return settings.lib_dir / "flink-plugins"


def flink_config(settings: Settings, *, restore: Path | None, metrics: bool = False) -> dict[str, str]:
    """``metrics``: serve Flink's metrics for Prometheus on ``flink_metrics_port`` (the live job; a bounded run
    leaves the port to it)."""
    jars = sorted((settings.lib_dir / "flink").glob("*.jar"))
    if not jars:
        raise SystemExit(f"no Flink connector jars in {settings.lib_dir / 'flink'}; run scripts/setup")
    config = {
        "pipeline.jars": ";".join(f"file://{j}" for j in jars),
        "pipeline.name": "rtml-feature-job",
        "table.local-time-zone": "UTC",
        "parallelism.default": str(settings.flink_parallelism),
        "execution.checkpointing.interval": f"{int(settings.flink_checkpoint_interval_s * 1000)}ms",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.dir": f"file://{checkpoint_dir(settings)}",
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "execution.checkpointing.num-retained": "2",
        # A view read by several INSERTs (checked_<source>: one parse and one run of the schema rules per record)
        # is planned once and shared; otherwise each branch (dead letters, each view) evaluates it again.
        "table.optimizer.reuse-optimize-block-with-digest-enabled": "true",
        # Chained operators hand records over without a defensive copy (Flink SQL's operators do not keep or
        # mutate their input); the copies were a tenth of the source thread's time.
        "pipeline.object-reuse": "true",
        "table.exec.source.idle-timeout": f"{int(settings.flink_idle_timeout_s * 1000)}ms",
        # change topics (debezium-json, at-least-once from Connect) may repeat a change: normalize per key
        "table.exec.source.cdc-events-duplicate": "true",
        "rest.address": settings.host,
        "rest.bind-address": settings.host,
        "rest.port": str(settings.flink_rest_port),
        # metrics the REST API serves (rtml jobs status, the throughput benchmark) at most 1 s old (default 10 s)
        "metrics.fetcher.update-interval": "1000",
        "restart-strategy.type": "fixed-delay",
        "restart-strategy.fixed-delay.attempts": "3",
        "restart-strategy.fixed-delay.delay": "5s",
    }
    if restore is not None:
        config["execution.state-recovery.path"] = str(restore)
    if metrics:
        if any(plugins_dir(settings).glob("metrics-prometheus/*.jar")):
            config["metrics.reporter.prom.factory.class"] = PROMETHEUS_REPORTER
            config["metrics.reporter.prom.port"] = str(settings.flink_metrics_port)
            config["metrics.reporter.prom.filter.includes"] = ";".join(PROMETHEUS_INCLUDES)
        else:
            log.warning(
                "no Prometheus reporter under %s: Flink's metrics are not served; run scripts/setup",
                plugins_dir(settings),
            )
    return config


def build(settings: Settings, views: list[AnyView], *, bounded: bool):  # type: ignore[no-untyped-def]
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    restore = None if bounded else latest_checkpoint(checkpoint_dir(settings))
    if not bounded:
        # The local MiniCluster loads no plugins (a cluster reads FLINK_PLUGINS_DIR); the reporter goes on the
        # gateway JVM's classpath instead, through the one variable pyflink's launcher appends to it. The JVM starts
        # on first use, below.
        extra = [str(j) for j in sorted(plugins_dir(settings).glob("metrics-prometheus/*.jar"))]
        if extra:
            os.environ["HADOOP_CLASSPATH"] = os.pathsep.join([*extra, os.environ.get("HADOOP_CLASSPATH", "")])
    conf = Configuration()
    config = {**flink_config(settings, restore=restore, metrics=not bounded), **use_tmp_dir(flink_tmp_dir(settings))}
    for key, value in config.items():
        conf.set_string(key, value)
    env = TableEnvironment.create(
        EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(conf).build()
    )
    kafka = KafkaOptions(
        bootstrap=settings.kafka_bootstrap,
        transaction_timeout_ms=settings.transaction_max_timeout_ms,
        bounded=bounded,
        # A bounded run (test, benchmark, backfill) reads the whole topic and leaves the live job's
        # consumer group alone.
        startup_mode="earliest-offset" if bounded else "group-offsets",
        group_id="rtml-feature-job-bounded" if bounded else "rtml-feature-job",
        watermark_emit=settings.flink_watermark_emit,
    )
    job = compile_feature_job(views, kafka)
    for statement in job.ddl:
        env.execute_sql(statement)
    statements = env.create_statement_set()
    for insert in job.inserts:
        statements.add_insert_sql(insert)
    return statements, restore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stream_jobs.feature_job", description=__doc__.splitlines()[0])
    parser.add_argument("--views", help="comma-separated view names (default: every online or offline view)")
    parser.add_argument("--bounded", action="store_true", help="stop at the offsets current at start")
    parser.add_argument("--print-sql", action="store_true", help="print the compiled SQL and exit")
    parser.add_argument(
        "--definitions",
        default="feature_pipelines.repository",
        help="module whose FEATURE_VIEWS dict holds the views (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    defined: dict[str, AnyView] = importlib.import_module(args.definitions).FEATURE_VIEWS
    try:
        views = [defined[v] for v in args.views.split(",")] if args.views else list(defined.values())
    except KeyError as exc:
        parser.error(f"no feature view {exc}; defined: {', '.join(defined)}")
    if args.print_sql:
        print(compile_feature_job(views, KafkaOptions(settings.kafka_bootstrap)).script())
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    started = time.monotonic()
    statements, restore = build(settings, views, bounded=args.bounded)
    result = statements.execute()
    job_id = result.get_job_client().get_job_id() if result.get_job_client() else "?"
    log.info(
        "feature job %s running: views %s, REST http://%s:%s, restored from %s",
        job_id,
        ",".join(v.name for v in views),
        settings.host,
        settings.flink_rest_port,
        restore or "nothing",
    )
    result.wait()
    log.info("feature job %s finished after %.1f s", job_id, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())

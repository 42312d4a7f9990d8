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
import signal
import sys
import time
from pathlib import Path

from feature_pipelines.definitions import FeatureView
from feature_pipelines.flink_sql import KafkaOptions, compile_feature_job
from rtml.settings import Settings, load_settings

log = logging.getLogger("rtml.feature_job")


def checkpoint_dir(settings: Settings) -> Path:
    return settings.state_dir / "flink" / "checkpoints"


def latest_checkpoint(root: Path) -> Path | None:
    """The newest completed checkpoint (``chk-N/_metadata``) under ``root``, if any."""
    done = [m.parent for m in root.glob("*/chk-*/_metadata")]
    return max(done, key=lambda p: p.stat().st_mtime, default=None)


def flink_config(settings: Settings, *, restore: Path | None) -> dict[str, str]:
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
        "table.exec.source.idle-timeout": f"{int(settings.flink_idle_timeout_s * 1000)}ms",
        "rest.address": settings.host,
        "rest.bind-address": settings.host,
        "rest.port": str(settings.flink_rest_port),
        "restart-strategy.type": "fixed-delay",
        "restart-strategy.fixed-delay.attempts": "3",
        "restart-strategy.fixed-delay.delay": "5s",
    }
    if restore is not None:
        config["execution.state-recovery.path"] = str(restore)
    return config


def build(settings: Settings, views: list[FeatureView], *, bounded: bool):  # type: ignore[no-untyped-def]
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    restore = None if bounded else latest_checkpoint(checkpoint_dir(settings))
    conf = Configuration()
    for key, value in flink_config(settings, restore=restore).items():
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
    defined: dict[str, FeatureView] = importlib.import_module(args.definitions).FEATURE_VIEWS
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

"""Real services for tests: a Kafka broker and Redis on free ports, state in a temp dir."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rtml.settings import Settings, load_settings
from rtml.stack.ports import free_port
from rtml.stack.supervisor import Stack


def isolated_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for an isolated stack: every port free now, everything under ``data_dir``."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "kafka_port": free_port(),
        "kafka_controller_port": free_port(),
        "redis_port": free_port(),
        "prometheus_port": free_port(),
        "flink_rest_port": free_port(),
        "postgres_port": free_port(),
        "connect_port": free_port(),
        "exporter_port": free_port(),
        "flink_metrics_port": free_port(),
        "kafka_heap": "768m",
        **overrides,
    }
    return load_settings(**values)


def settings_env(settings: Settings) -> dict[str, str]:
    """The RTML_* environment that makes a subprocess (the CLI) see the same settings."""
    return {
        **os.environ,
        "RTML_DATA_DIR": str(settings.state_dir),
        "RTML_KAFKA_PORT": str(settings.kafka_port),
        "RTML_KAFKA_CONTROLLER_PORT": str(settings.kafka_controller_port),
        "RTML_REDIS_PORT": str(settings.redis_port),
        "RTML_PROMETHEUS_PORT": str(settings.prometheus_port),
        "RTML_FLINK_REST_PORT": str(settings.flink_rest_port),
        "RTML_POSTGRES_PORT": str(settings.postgres_port),
        "RTML_CONNECT_PORT": str(settings.connect_port),
        "RTML_EXPORTER_PORT": str(settings.exporter_port),
        "RTML_FLINK_METRICS_PORT": str(settings.flink_metrics_port),
        "RTML_FLINK_WATERMARK_EMIT": settings.flink_watermark_emit,
        "RTML_KAFKA_HEAP": settings.kafka_heap,
    }


@contextmanager
def running_stack(settings: Settings, only: list[str]) -> Iterator[Stack]:
    stack = Stack(settings)
    try:
        stack.up(only)
        yield stack
    finally:
        stack.down()


@contextmanager
def postgres_reachable_dir(prefix: str = "rtml-cdc-") -> Iterator[Path]:
    """A temp dir that PostgreSQL's OS user can enter (as root the server runs as ``postgres``, and pytest's
    own temp dirs are 0700), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)

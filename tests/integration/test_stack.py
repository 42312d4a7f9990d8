"""The local stack supervisor against real processes: readiness, pids, stale pid files, busy ports."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import redis

from rtml.settings import Settings
from rtml.stack.process import StackError
from rtml.stack.supervisor import Stack
from tests.support.services import isolated_settings


def test_session_stack_is_ready(stack: Stack) -> None:
    rows = {row.name: row for row in stack.status()}
    assert rows["kafka"].ready and rows["kafka"].pid
    assert rows["redis"].ready and rows["redis"].pid
    assert not rows["prometheus"].pid  # --only kafka,redis started a subset


def test_redis_runs_with_its_own_config(settings: Settings) -> None:
    client = redis.Redis(host=settings.host, port=settings.redis_port)
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
    assert client.config_get("dir")["dir"] == str(settings.state_dir / "redis")


def test_kafka_storage_is_formatted_under_the_data_dir(settings: Settings) -> None:
    meta = settings.state_dir / "kafka" / "data" / "meta.properties"
    assert "cluster.id=" in meta.read_text()


def test_up_is_idempotent(stack: Stack) -> None:
    before = {row.name: row.pid for row in stack.status()}
    stack.up(["kafka", "redis"])
    assert {row.name: row.pid for row in stack.status()} == before


@pytest.fixture
def redis_only(tmp_path: Path) -> Stack:
    stack = Stack(isolated_settings(tmp_path))
    yield stack
    stack.down()


def test_stale_pid_file_is_recovered(redis_only: Stack) -> None:
    svc = redis_only.services["redis"]
    svc.process.run_dir.mkdir(parents=True)
    svc.process.pid_file.write_text("999999 12345\n")  # a crash left it behind; no such process
    assert svc.process.pid() is None
    assert not svc.process.pid_file.exists()
    redis_only.up(["redis"])
    assert svc.process.pid() is not None


def test_stop_is_graceful_and_status_reports_it(redis_only: Stack) -> None:
    redis_only.up(["redis"])
    pid = redis_only.services["redis"].process.pid()
    assert dict(redis_only.down(["redis"])) == {"redis": True}
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    row = next(r for r in redis_only.status() if r.name == "redis")
    assert row.pid is None and not row.ready
    assert dict(redis_only.down(["redis"])) == {"redis": False}


def test_port_in_use_gives_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        stack = Stack(isolated_settings(tmp_path, redis_port=port))
        with pytest.raises(StackError) as info:
            stack.up(["redis"])
    message = str(info.value)
    assert f"port {port}" in message and "RTML_REDIS_PORT" in message and "by pid" in message
    assert stack.services["redis"].process.pid() is None


def test_unknown_service_is_refused(redis_only: Stack) -> None:
    with pytest.raises(StackError, match="unknown service"):
        redis_only.up(["kafka", "zookeeper"])

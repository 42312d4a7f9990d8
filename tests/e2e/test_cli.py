"""The command line as a user runs it: a fresh stack, topics, generated events, reading them back,
bad records to the dead-letter topic, and one clear line for every expected failure."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rtml.stack.ports import free_port
from tests.support.cli import run_rtml
from tests.support.services import isolated_settings, settings_env


def rtml(
    env: dict[str, str], *args: str, input: bytes | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return run_rtml(env, *args, timeout=timeout)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    settings = isolated_settings(tmp_path_factory.mktemp("cli"))
    env = settings_env(settings)
    up = rtml(env, "up", "--only", "kafka,redis")
    try:
        assert up.returncode == 0, up.stderr
        yield env
    finally:
        rtml(env, "down")


def test_up_reports_each_service_ready(env: dict[str, str]) -> None:
    status = rtml(env, "status")
    lines = {line.split("│")[1].strip(): line for line in status.stdout.splitlines() if line.count("│") > 3}
    assert "ready" in lines["kafka"] and "ready" in lines["redis"]
    assert "stopped" in lines["prometheus"]
    assert status.returncode == 1  # not every service is ready


def test_topics_create_is_idempotent(env: dict[str, str]) -> None:
    first = rtml(env, "topics", "create")
    assert first.returncode == 0, first.stderr
    assert "created events.transactions" in first.stdout
    second = rtml(env, "topics", "create")
    assert second.returncode == 0
    assert ", 0 created" in second.stdout


def test_produce_then_consume(env: dict[str, str]) -> None:
    rtml(env, "topics", "create")
    produced = rtml(env, "produce", "transactions", "--count", "300", "--fast", "--seed", "7")
    assert produced.returncode == 0, produced.stderr
    assert "300 transactions" in produced.stdout
    consumed = rtml(env, "consume", "events.transactions", "--max", "300", "--idle-timeout", "20")
    assert consumed.returncode == 0, consumed.stderr
    assert "300 records, 0 invalid" in consumed.stdout
    assert '"type":"transaction"' in consumed.stdout


def test_bad_record_goes_to_the_dead_letter_topic(env: dict[str, str]) -> None:
    rtml(env, "topics", "create")
    bootstrap = f"127.0.0.1:{env['RTML_KAFKA_PORT']}"
    subprocess.run(
        ["kcat", "-b", bootstrap, "-P", "-t", "labels.transactions", "-K", "|"],
        input=b'tx-1|{"event_id": "tx-1", "label": 7, "ts": 5}\n',
        check=True,
        timeout=30,
    )
    routed = rtml(env, "consume", "labels.transactions", "--group", "cli-test", "--dlq", "--idle-timeout", "8")
    assert routed.returncode == 0, routed.stderr
    assert "INVALID" in routed.stdout and "$.label" in routed.stdout
    dead = rtml(env, "consume", "dlq.labels.transactions", "--max", "1", "--idle-timeout", "20")
    assert "rtml.error.rule=enum" in dead.stdout
    assert "rtml.source.topic=labels.transactions" in dead.stdout


def test_unreachable_broker_is_one_clear_line(tmp_path: Path) -> None:
    env = settings_env(isolated_settings(tmp_path, kafka_port=free_port()))
    result = rtml(env, "topics", "create", timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "cannot reach Kafka" in result.stderr and "rtml up" in result.stderr


def test_bad_setting_is_one_clear_line(env: dict[str, str]) -> None:
    result = rtml({**env, "RTML_REDIS_PORT": "99999"}, "up", "--only", "redis")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "RTML_REDIS_PORT" in result.stderr


def test_port_in_use_is_reported(env: dict[str, str], tmp_path: Path) -> None:
    other = settings_env(isolated_settings(tmp_path, redis_port=int(env["RTML_REDIS_PORT"])))
    result = rtml(other, "up", "--only", "redis")
    assert result.returncode == 1
    assert f"port {env['RTML_REDIS_PORT']}" in result.stderr and "RTML_REDIS_PORT" in result.stderr


def test_pipelines_carry_events_to_redis_and_delta(env: dict[str, str]) -> None:
    """rtml jobs start: the Flink job and both materializers; generated events end up as feature rows
    in Redis and as rows in Delta; rtml jobs stop ends them."""
    import time

    from feature_pipelines.offline.delta_store import DeltaOfflineStore
    from feature_pipelines.online.registry import open_store
    from rtml.settings import load_settings

    rtml(env, "topics", "create")
    started = rtml(env, "jobs", "start", timeout=300)
    try:
        assert started.returncode == 0, started.stderr
        assert "features" in started.stdout and "online" in started.stdout and "offline" in started.stdout
        # Two minutes of event time from now on (sent at once): the watermark passes a minute boundary
        # right away. Event time must not go back behind what earlier tests sent, or it is late.
        start_ts = int(time.time() * 1000) + 1000
        produced = rtml(
            env,
            "produce",
            "transactions",
            "--count",
            "600",
            "--fast",
            "--rate",
            "5",
            "--customers",
            "50",
            "--start-ts",
            str(start_ts),
        )
        assert produced.returncode == 0, produced.stderr
        settings = load_settings(
            data_dir=env["RTML_DATA_DIR"],
            redis_port=int(env["RTML_REDIS_PORT"]),
            kafka_port=int(env["RTML_KAFKA_PORT"]),
        )
        store = open_store(settings.redis)
        customers = [{"customer_id": f"cust-{i:06d}"} for i in range(50)]
        deadline = time.monotonic() + 180
        found: list[int | None] = []
        while time.monotonic() < deadline:
            found = store.get_online_features(features=["customer_txn_stats:count_24h"], entity_rows=customers)[
                "count_24h"
            ]
            if any(found):
                break
            time.sleep(2)
        assert any(found), "no feature row reached Redis"
        assert all(c is None or c >= 1 for c in found)
        offline = DeltaOfflineStore.from_settings(settings)
        while time.monotonic() < deadline and not offline.exists("events/transactions"):
            time.sleep(2)
        assert offline.read("events/transactions").num_rows >= 1
        status = rtml(env, "jobs", "status")
        assert status.stdout.count("running") == 3, status.stdout
    finally:
        stopped = rtml(env, "jobs", "stop")
    assert stopped.returncode == 0 and "stopped features" in stopped.stdout

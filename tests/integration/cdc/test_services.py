"""PostgreSQL and Kafka Connect as stack services: non-root server, logical WAL, seeded once, status with the
connector's state and slot lag, and one clear line when Connect's dependencies are missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rtml.stack.postgres import PostgresService
from rtml.stack.process import StackError
from rtml.stack.supervisor import Stack
from tests.support.services import isolated_settings


def test_postgres_runs_with_logical_wal_and_not_as_root(cdc_stack: Stack) -> None:
    postgres = cdc_stack.services["postgres"]
    assert isinstance(postgres, PostgresService)
    psql = postgres.psql()
    assert psql.value("SHOW wal_level") == "logical"
    assert psql.value("SHOW data_directory") == str(postgres.data)
    uid = next(
        line
        for line in Path(f"/proc/{postgres.process.pid()}/status").read_text().splitlines()
        if line.startswith("Uid:")
    )
    assert int(uid.split()[1]) != 0
    if os.geteuid() == 0:
        assert (postgres.data.stat().st_uid, postgres.data.stat().st_mode & 0o777) == (int(uid.split()[1]), 0o700)


def test_database_is_seeded_once(cdc_stack: Stack) -> None:
    postgres = cdc_stack.services["postgres"]
    assert isinstance(postgres, PostgresService)
    assert postgres.bootstrap() is False  # the schema exists: nothing is inserted again
    psql = postgres.psql()
    assert psql.value("SELECT count(*) FROM bank.merchants") == str(cdc_stack.settings.bank_merchants)
    assert psql.value("SELECT count(*) FROM bank.customers WHERE id LIKE 'cust-%'") is not None
    assert psql.value("SELECT relreplident FROM pg_class WHERE oid = 'bank.customers'::regclass") == "f"


def test_status_shows_the_connector_and_its_lag(cdc_stack: Stack) -> None:
    rows = {row.name: row for row in cdc_stack.status()}
    assert rows["postgres"].ready and rows["connect"].ready
    assert rows["connect"].detail.startswith("bank-cdc RUNNING, task 0 RUNNING; slot lag ")
    assert rows["kafka"].detail == ""


def test_connect_without_kafka_says_what_to_do(tmp_path: Path) -> None:
    stack = Stack(isolated_settings(tmp_path))
    with pytest.raises(StackError) as info:
        stack.up(["connect"])
    message = str(info.value)
    assert "does not answer" in message and "rtml up --only kafka,postgres,connect" in message
    assert stack.services["connect"].process.pid() is None

"""`rtml produce bank-changes` against the real PostgreSQL: each generated change is committed and reaches
cdc.bank.customers through Debezium as what it is (an update with the new value, a delete); without PostgreSQL the
command says what to do."""

from __future__ import annotations

from itertools import islice

import pytest

from rtml.datagen.bank import bank_rows
from rtml.datagen.bank_changes import BankChangeStream
from rtml.datagen.config import GeneratorConfig
from rtml.settings import Settings
from rtml.stack.ports import free_port
from tests.support.cdc import read_changes
from tests.support.cli import run_rtml
from tests.support.services import settings_env

pytestmark = pytest.mark.integration

SEED, COUNT = 3, 40


def test_generated_changes_arrive_as_cdc_records(cdc_settings: Settings) -> None:
    config = GeneratorConfig(start_ts=0, seed=cdc_settings.bank_seed, n_customers=cdc_settings.bank_customers)
    rows = bank_rows(config)[0]
    expected = list(islice(BankChangeStream(rows, config.countries, SEED), COUNT))
    # the session's other CDC tests read and write the first two seeded customers: these changes leave them alone
    assert not {rows[0].id, rows[1].id} & {c.customer_id for c in expected}
    done = run_rtml(
        settings_env(cdc_settings),
        "produce",
        "bank-changes",
        "--count",
        str(COUNT),
        "--rate",
        "50",
        "--seed",
        str(SEED),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{COUNT} changes to bank.customers" in done.stdout

    keys = {c.customer_id for c in expected}

    def mine(changes: list) -> list:  # type: ignore[type-arg]
        return [c for c in changes if c.value is not None and c.key.get("id") in keys and c.op in ("u", "d")]

    got = mine(read_changes(cdc_settings, "cdc.bank.customers", lambda changes: len(mine(changes)) >= COUNT))
    assert len(got) == COUNT
    for change, record in zip(expected, sorted(got, key=lambda c: c.value["source"]["lsn"]), strict=True):
        assert record.key["id"] == change.customer_id
        if change.kind == "closure":
            assert record.op == "d"
        elif change.kind == "credit_limit":
            assert record.op == "u" and record.value["after"]["credit_limit"] == change.credit_limit
        else:
            assert record.op == "u" and record.value["after"]["country"] == change.country


def test_without_postgres_one_clear_line(cdc_settings: Settings) -> None:
    env = {**settings_env(cdc_settings), "RTML_POSTGRES_PORT": str(free_port())}
    done = run_rtml(env, "produce", "bank-changes", "--count", "1")
    assert done.returncode == 1
    assert "PostgreSQL is not answering" in done.stdout and "rtml up" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr

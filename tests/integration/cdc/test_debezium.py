"""Debezium into Kafka against the real services: the snapshot of the seeded rows, inserts, updates and
deletes as envelopes, a column added on the fly, and a worker killed with SIGKILL that resumes with no change
lost, none repeated, and no second snapshot."""

from __future__ import annotations

import os
import signal
import time
import uuid

from rtml.datagen.bank import bank_rows
from rtml.datagen.config import GeneratorConfig
from rtml.settings import Settings
from rtml.stack.postgres import PostgresService
from rtml.stack.supervisor import Stack
from schemas import codec_for
from schemas.debezium import Customer, Merchant
from tests.support.cdc import Change, of_key, read_changes

CUSTOMERS = "cdc.bank.customers"
MERCHANTS = "cdc.bank.merchants"


def sql(settings: Settings, text: str) -> str:
    return PostgresService(settings).psql().run(text)


def seeded(settings: Settings) -> tuple[list[Customer], list[Merchant]]:
    config = GeneratorConfig(
        start_ts=0, seed=settings.bank_seed, n_customers=settings.bank_customers, n_merchants=settings.bank_merchants
    )
    customers, merchants = bank_rows(config)
    return (
        [
            Customer(c.id, c.segment, c.country, c.credit_limit, c.account_opened_at, list(c.risk_flags))
            for c in customers
        ],
        [Merchant(m.id, m.category, m.country) for m in merchants],
    )


def snapshot_reads(changes: list[Change]) -> list[Change]:
    return [c for c in changes if c.op == "r"]


def test_snapshot_carries_every_seeded_row_once(cdc_settings: Settings) -> None:
    customers, merchants = seeded(cdc_settings)
    check_snapshot(cdc_settings, CUSTOMERS, customers)
    check_snapshot(cdc_settings, MERCHANTS, merchants)


def check_snapshot(settings: Settings, topic: str, rows: list[Customer] | list[Merchant]) -> None:
    codec = codec_for(topic)
    changes = read_changes(settings, topic, lambda got: len(snapshot_reads(got)) >= len(rows))
    reads = snapshot_reads(changes)
    assert len(reads) == len(rows), "a second snapshot, or rows missing"
    decoded = {e.after.id: e.after for e in (codec.decode(c.raw) for c in reads)}
    assert decoded == {row.id: row for row in rows}
    first = codec.decode(reads[0].raw)
    assert (first.source.db, first.source.schema, first.source.table) == ("bank", "bank", topic.split(".")[-1])
    assert all(c.key == {"id": codec.decode(c.raw).after.id} for c in reads)


def test_insert_update_delete_arrive_as_envelopes(cdc_settings: Settings) -> None:
    key = f"cust-t-{uuid.uuid4().hex[:8]}"
    sql(
        cdc_settings,
        f"INSERT INTO bank.customers VALUES ('{key}', 'student', 'DE', 500, '2024-05-01 10:00:00.250', '{{kyc}}');"
        f"UPDATE bank.customers SET credit_limit = 750.5, risk_flags = '{{}}' WHERE id = '{key}';"
        f"DELETE FROM bank.customers WHERE id = '{key}';",
    )
    changes = of_key(read_changes(cdc_settings, CUSTOMERS, lambda got: len(of_key(got, key)) >= 4), key)
    assert [c.op for c in changes] == ["c", "u", "d", None]  # the delete is followed by a tombstone
    codec = codec_for(CUSTOMERS)
    create, update, delete = (codec.decode(c.raw) for c in changes[:3])
    row = Customer(key, "student", "DE", 500.0, 1_714_557_600_250, ["kyc"])
    assert create.before is None and create.after == row
    assert update.before == row
    assert update.after == Customer(key, "student", "DE", 750.5, 1_714_557_600_250, [])
    assert delete.before == update.after and delete.after is None
    assert create.source.snapshot == "false" and create.source.lsn and create.source.tx_id
    assert len({c.partition for c in changes}) == 1  # one key, one partition: ordered


def test_an_added_column_flows_through(cdc_settings: Settings) -> None:
    """ALTER TABLE ADD COLUMN needs nothing from the pipeline: Debezium reads the new relation from pgoutput and
    adds the field to before/after; readers ignore fields they do not know."""
    key = seeded(cdc_settings)[1][0].id
    sql(
        cdc_settings,
        "ALTER TABLE bank.merchants ADD COLUMN IF NOT EXISTS website text;"
        f"UPDATE bank.merchants SET website = 'https://shop.example' WHERE id = '{key}';",
    )
    changes = read_changes(cdc_settings, MERCHANTS, lambda got: any(c.op == "u" for c in of_key(got, key)))
    update = next(c for c in of_key(changes, key) if c.op == "u")
    assert update.value is not None
    assert update.value["before"]["website"] is None and update.value["after"]["website"] == "https://shop.example"
    assert codec_for(MERCHANTS).decode(update.raw).after.id == key


def test_killed_worker_resumes_without_loss_or_second_snapshot(cdc_stack: Stack) -> None:
    settings = cdc_stack.settings
    connect = cdc_stack.services["connect"]
    key = seeded(settings)[0][1].id
    limits = iter(range(10_000, 10_000 + 90))

    def updates(n: int) -> None:
        sql(
            settings,
            "".join(f"UPDATE bank.customers SET credit_limit = {next(limits)} WHERE id = '{key}';" for _ in range(n)),
        )

    updates(30)  # before the kill: some committed to Kafka, maybe some in flight
    pid = connect.process.pid()
    assert pid is not None
    time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    while connect.process.pid() is not None:
        time.sleep(0.05)
    updates(30)  # while the worker is down: only the replication slot holds them
    began = time.monotonic()
    cdc_stack.up(["connect"])
    print(f"\nconnect restarted after SIGKILL in {time.monotonic() - began:.1f} s")
    assert connect.process.pid() not in (None, pid)
    updates(30)  # after the restart

    wanted = [float(v) for v in range(10_000, 10_090)]

    def after_limits(got: list[Change]) -> list[float]:
        return [c.value["after"]["credit_limit"] for c in of_key(got, key) if c.op == "u" and c.value]

    # Until the last update and the whole first snapshot are read (the topic's partitions are read side by side,
    # so the key's updates may come before other partitions' snapshot reads). A second snapshot would be written
    # before the updates after the restart, in the key's partition too: more reads than rows.
    changes = read_changes(
        settings,
        CUSTOMERS,
        lambda got: set(wanted) <= set(after_limits(got)) and len(snapshot_reads(got)) >= settings.bank_customers,
        timeout_s=120,
    )
    seen = [v for v in after_limits(changes) if v >= 10_000]
    assert seen == wanted, "a change was lost, repeated or reordered"
    assert len(snapshot_reads(changes)) == settings.bank_customers, "the restart took a second snapshot"

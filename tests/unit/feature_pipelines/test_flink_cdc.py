"""Changelog views: their definition rules and the shape of their Flink SQL (the SQL's behaviour runs against
PostgreSQL, Debezium, Flink and Redis in tests/integration/cdc/test_cdc_features.py)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from feature_pipelines.definitions import Attribute, ChangelogSource, ChangelogView, Entity
from feature_pipelines.flink_sql import KafkaOptions, compile_feature_job
from feature_pipelines.repository import customer_profile
from schemas.debezium import Customer

SOURCE = ChangelogSource("bank_customers", "cdc.bank.customers", Customer)  # as the repository names it
CUSTOMER = Entity("customer", "customer_id")


def job_sql(*views: ChangelogView, bounded: bool = False) -> list[str]:
    job = compile_feature_job(list(views), KafkaOptions("b:9092", bounded=bounded))
    return job.ddl + job.inserts


def one(statements: list[str], prefix: str) -> str:
    found = [s for s in statements if s.startswith(prefix)]
    assert len(found) == 1, (prefix, [s[:60] for s in statements])
    return found[0]


def test_a_changelog_source_reads_debezium_json_with_the_primary_key() -> None:
    table = one(job_sql(customer_profile), "CREATE TABLE `cdc_bank_customers`")
    assert "'value.format' = 'debezium-json'" in table
    assert "PRIMARY KEY (`id`) NOT ENFORCED" in table
    assert "METADATA FROM 'value.source.properties'" in table
    assert "'properties.isolation.level' = 'read_committed'" in table
    # only the columns the views read
    assert "`credit_limit` DOUBLE" in table and "`risk_flags` ARRAY<STRING>" in table and "`segment`" not in table


def test_the_view_writes_upserts_and_tombstones_exactly_once() -> None:
    statements = job_sql(customer_profile)
    sink = one(statements, "CREATE TABLE `sink_customer_profile`")
    assert "'connector' = 'upsert-kafka'" in sink and "PRIMARY KEY (`entity_id`)" in sink
    assert "'sink.delivery-guarantee' = 'exactly-once'" in sink
    insert = one(statements, "INSERT INTO `sink_customer_profile`")
    # window_end is the commit time in the database (a snapshot read's: 1 ms); the rules are checked on the typed
    # columns too
    assert "THEN 1 ELSE CAST(`change_props`['ts_ms'] AS BIGINT) END" in insert
    assert "TRY_CAST(CAST(`credit_limit` AS STRING) AS DOUBLE) >= 0" in insert


def test_malformed_records_are_routed_by_rule() -> None:
    statements = job_sql(customer_profile)
    checked = one(statements, "CREATE TEMPORARY VIEW `cdcchecked_bank_customers`")
    for rule in ("'json|$'", "'enum|$.op'", "'required_for_op|$.'", "'ge|$.'", "'type|$.'"):
        assert rule in checked, rule
    assert "WHERE `raw` IS NOT NULL" in checked  # the change topic's own tombstones are not records
    dlq = one(statements, "INSERT INTO `cdcdlq_bank_customers`")
    assert "FROM `cdcchecked_bank_customers`" in dlq and "WHERE `err` IS NOT NULL" in dlq
    assert "'dlq.cdc.bank.customers'" in one(statements, "CREATE TABLE `cdcdlq_bank_customers`")


def test_two_views_on_one_table_share_its_readings() -> None:
    other = ChangelogView(
        "customer_limit",
        CUSTOMER,
        SOURCE,
        (Attribute("limit_k", "`credit_limit` / 1000", "float64", ("credit_limit",)),),
    )
    statements = job_sql(customer_profile, other)
    assert len([s for s in statements if s.startswith("CREATE TABLE `cdc_")]) == 1
    assert len([s for s in statements if s.startswith("CREATE TABLE `cdcraw_")]) == 1
    assert len([s for s in statements if s.startswith("INSERT INTO `sink_")]) == 2


def test_bounded_and_group_offsets() -> None:
    assert "'scan.bounded.mode' = 'latest-offset'" in one(job_sql(customer_profile, bounded=True), "CREATE TABLE `cdc_")
    live = job_sql(customer_profile)
    assert "'scan.startup.mode' = 'group-offsets'" in one(live, "CREATE TABLE `cdc_")
    # the raw reading commits under a group of its own
    assert re.search(r"'properties.group.id' = '[^']*-checks'", one(live, "CREATE TABLE `cdcraw_"))


def test_definition_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="not a column of Customer"):
        ChangelogSource("c", "cdc.bank.customers", Customer, key="customer_id")
    with pytest.raises(ValueError, match="reads \\['nope'\\]"):
        ChangelogView("v", CUSTOMER, SOURCE, (Attribute("a", "`nope`", "float64", ("nope",)),))
    with pytest.raises(ValueError, match="at least one attribute"):
        ChangelogView("v", CUSTOMER, SOURCE, ())
    twice = Attribute("a", "`credit_limit`", "float64", ("credit_limit",))
    with pytest.raises(ValueError, match="duplicate"):
        ChangelogView("v", CUSTOMER, SOURCE, (twice, twice))


def test_fingerprint_follows_the_attributes() -> None:
    a = ChangelogView("v", CUSTOMER, SOURCE, (Attribute("a", "`credit_limit`", "float64", ("credit_limit",)),))
    b = ChangelogView("v", CUSTOMER, SOURCE, (Attribute("a", "`credit_limit` * 2", "float64", ("credit_limit",)),))
    assert a.fingerprint != b.fingerprint
    assert a.describe()["changelog"] is True


def test_an_as_of_join_reads_the_versioned_table_at_the_events_time() -> None:
    from tests.support import cdc_views

    statements = job_sql(cdc_views.limit_usage)
    table = one(statements, "CREATE TABLE `cdc_bank_customers`")
    assert "WATERMARK FOR `version_ts` AS `version_ts`" in table and "PRIMARY KEY (`id`)" in table
    # a snapshot read holds since the start of time: an event older than the snapshot joins its row
    snapshot_read = "COALESCE(`change_props`['snapshot'], 'false') NOT IN ('false', 'incremental')"
    assert f"`version_ts` AS CASE WHEN {snapshot_read}" in table
    assert "THEN TO_TIMESTAMP_LTZ(1, 3) ELSE `change_ts` END" in table
    joined = one(statements, "CREATE TEMPORARY VIEW `joined_test_customer_limit_usage`")
    assert "LEFT JOIN `cdc_bank_customers` FOR SYSTEM_TIME AS OF e.`event_ts` AS c" in joined
    assert "ON e.`customer_id` = c.`id`" in joined
    assert "CAST(`amount` / NULLIF(`credit_limit`, 0) AS DOUBLE) AS `amount_to_limit`" in joined
    # the windows read the joined events; the event source extracts what the join and the derived values need
    assert "HOP(TABLE `joined_test_customer_limit_usage`" in one(statements, "CREATE TEMPORARY VIEW `windows_")
    valid = one(statements, "CREATE TEMPORARY VIEW `valid_test_cdc_transactions`")
    assert "`amount`" in valid and "`customer_id`" in valid and "`amount_to_limit`" not in valid
    # malformed change records still go to the dead-letter topic
    assert any(s.startswith("INSERT INTO `cdcdlq_bank_customers`") for s in statements)


def test_join_definition_errors() -> None:
    from feature_pipelines.definitions import Aggregation, AsOfJoin, Derived, FeatureView, Source, Window
    from schemas.transaction import Transaction

    events = Source("tx", "events.transactions", Transaction)
    second = Window(timedelta(seconds=1), timedelta(seconds=1))

    def view(join: AsOfJoin, column: str = "credit_limit") -> FeatureView:
        return FeatureView("v", CUSTOMER, events, (second,), (Aggregation("max", column),), join=join)

    with pytest.raises(ValueError, match="join field 'nope'"):
        view(AsOfJoin(SOURCE, "nope", ("credit_limit",)))
    with pytest.raises(ValueError, match="not columns of Customer"):
        view(AsOfJoin(SOURCE, "customer_id", ("limit",)))
    with pytest.raises(ValueError, match="neither joined columns nor fields"):
        view(AsOfJoin(SOURCE, "customer_id", ("credit_limit",), (Derived("r", "`x`", ("x",)),)))
    with pytest.raises(ValueError, match="shadow an event field"):
        view(AsOfJoin(SOURCE, "customer_id", ("country",)), column="amount")
    with pytest.raises(ValueError, match="nor an output of its join"):
        view(AsOfJoin(SOURCE, "customer_id", ("credit_limit",)), column="segment")

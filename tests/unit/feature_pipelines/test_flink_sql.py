"""The Flink SQL compiler's output shape (the SQL's behaviour is tested on a MiniCluster)."""

from __future__ import annotations

import re

from feature_pipelines.definitions import ChangelogView, FeatureView
from feature_pipelines.flink_sql import KafkaOptions, compile_feature_job
from feature_pipelines.repository import FEATURE_VIEWS
from feature_pipelines.sql_validation import extracted_fields, validation_case
from schemas.transaction import Transaction


def test_views_on_one_topic_share_one_source_and_one_dead_letter_sink() -> None:
    job = compile_feature_job(list(FEATURE_VIEWS.values()), KafkaOptions("b:9092"))
    sources = [d for d in job.ddl if d.startswith("CREATE TABLE `src_")]
    assert len(sources) == 1 and "'topic' = 'events.transactions'" in sources[0]
    windowed = [v for v in FEATURE_VIEWS.values() if isinstance(v, FeatureView)]
    changelog = [v for v in FEATURE_VIEWS.values() if isinstance(v, ChangelogView)]
    # a dead-letter insert per source topic (events.transactions, cdc.bank.customers) and one insert per view
    assert len(job.inserts) == 2 + len(FEATURE_VIEWS) and windowed and changelog
    assert job.inserts[0].startswith("INSERT INTO `dlq_transactions`")
    for view in FEATURE_VIEWS.values():
        sink = next(d for d in job.ddl if d.startswith(f"CREATE TABLE `sink_{view.name}`"))
        assert "'sink.delivery-guarantee' = 'exactly-once'" in sink
        assert "'properties.transaction.timeout.ms' = '900000'" in sink
        for name in view.feature_names:
            assert f"`{name}`" in sink


def test_bounded_runs_stop_at_the_latest_offsets() -> None:
    views = list(FEATURE_VIEWS.values())
    assert "scan.bounded.mode" not in compile_feature_job(views, KafkaOptions("b:9092")).script()
    assert (
        "'scan.bounded.mode' = 'latest-offset'"
        in compile_feature_job(views, KafkaOptions("b:9092", bounded=True)).script()
    )


def test_validation_covers_the_rules_of_the_fields_read() -> None:
    case = validation_case(Transaction, ["ts", "amount", "channel"])
    for expected in ("'json|$'", "'enum|$.type'", "'required|$.ts'", "'ge|$.ts'", "'gt|$.amount'", "'enum|$.channel'"):
        assert expected in case
    assert "$.customer_id" not in case  # not read, not checked here (the codec checks it elsewhere)
    types = {f.name: f.sql_type for f in extracted_fields(Transaction, ["ts", "amount", "channel"])}
    assert types == {"ts": "BIGINT", "amount": "DOUBLE", "channel": "STRING"}


def test_every_parse_of_a_source_names_the_same_fields_so_one_parse_serves_them_all() -> None:
    script = compile_feature_job(list(FEATURE_VIEWS.values()), KafkaOptions("b:9092")).script()
    calls = re.findall(r"RTML_JSON_FIELDS\(`raw`, ([^)]*)\)", script)
    assert len(calls) == 2 and len(set(calls)) == 1  # the watermark's event time and the checks
    names = [n.strip().strip("'") for n in calls[0].split(",")]
    assert names[0] == "type" and len(names) == len(set(names))
    for i, name in enumerate(names, start=1):  # each field reads its own element
        column = "`tag`" if name == "type" else f"`f_{name}`"
        assert f"`m`[{i}] AS {column}" in script

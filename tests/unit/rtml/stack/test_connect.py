"""The Debezium connector's configuration and the worker's, rendered from infra/debezium, and the status line."""

from __future__ import annotations

import json
from pathlib import Path

from rtml.settings import Settings, load_settings
from rtml.stack.connect import ConnectService, _failure, _running, _summary, connector_config, slot_name

TEMPLATE = (Path(__file__).parents[4] / "infra" / "debezium" / "bank-connector.json").read_text()


def test_connector_config_from_settings() -> None:
    settings = load_settings(postgres_port=25432, cdc_tables=["bank.customers", "bank.merchants"])
    config = connector_config(settings, TEMPLATE)
    assert config["connector.class"] == "io.debezium.connector.postgresql.PostgresConnector"
    assert config["plugin.name"] == "pgoutput"
    assert (config["database.port"], config["database.dbname"]) == ("25432", "bank")
    assert config["table.include.list"] == "bank.customers,bank.merchants"
    assert config["topic.prefix"] == "cdc"  # topics cdc.<schema>.<table> = cdc.bank.customers
    assert config["slot.name"] == config["publication.name"] == "rtml_bank"
    # what schemas/debezium.py relies on
    assert config["decimal.handling.mode"] == "double"
    assert config["time.precision.mode"] == "connect"
    assert config["snapshot.mode"] == "initial"
    assert all(isinstance(v, str) for v in config.values())


def test_values_stay_one_json_string() -> None:
    settings = load_settings(postgres_password='p"a\\ss$x', postgres_db="My-Db")
    config = connector_config(settings, TEMPLATE)
    assert config["database.password"] == 'p"a\\ss$x'
    assert slot_name(settings) == "rtml_my_db"


def test_worker_properties(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, kafka_port=29092, connect_port=28083, connect_exactly_once=False)
    service = ConnectService(settings)
    path = service.render(
        "debezium/connect-distributed.properties",
        tmp_path / "w.properties",
        bootstrap=settings.kafka_bootstrap,
        group=settings.connect_group,
        host=settings.host,
        port=settings.connect_port,
        exactly_once="disabled",
        plugin_path=service.plugin_path,
    )
    props = dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    assert props["bootstrap.servers"] == "127.0.0.1:29092"
    assert props["listeners"] == "http://127.0.0.1:28083"
    assert props["offset.storage.topic"] == "rtml-connect.offsets"
    assert props["value.converter.schemas.enable"] == "false"
    assert props["exactly.once.source.support"] == "disabled"
    assert props["plugin.path"] == str(settings.lib_dir / "connect-plugins")


STATUS = {
    "name": "bank-cdc",
    "connector": {"state": "RUNNING", "worker_id": "w"},
    "tasks": [{"id": 0, "state": "RUNNING", "worker_id": "w"}],
}


def test_status_reading() -> None:
    assert _running(STATUS) and _failure(STATUS) is None
    assert _summary(STATUS) == "bank-cdc RUNNING, task 0 RUNNING"
    assert not _running({**STATUS, "tasks": []}) and not _running(None)
    failed = {**STATUS, "tasks": [{"id": 0, "state": "FAILED", "trace": "org.x.ConnectException: slot busy\n\tat a\n"}]}
    assert not _running(failed)
    assert _failure(failed) == "org.x.ConnectException: slot busy | at a"
    assert _summary(None) == "connector not registered"


def test_settings_defaults_keep_off_the_usual_ports() -> None:
    settings = Settings()
    assert settings.postgres_port != 5432 and settings.connect_port == 8083
    assert json.loads(json.dumps(settings.connect_url)) == "http://127.0.0.1:8083"

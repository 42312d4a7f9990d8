"""Settings: defaults, RTML_* environment, the TOML file, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtml.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("RTML_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no rtml.toml here unless a test writes one


def test_defaults_describe_the_local_stack() -> None:
    s = load_settings()
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.redis == "redis://127.0.0.1:6379/0"
    assert s.state_dir == s.home / "data"
    assert s.lib_dir == s.home / "lib"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RTML_KAFKA_PORT", "19092")
    monkeypatch.setenv("RTML_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("RTML_MODELS", '["fraud", "churn"]')
    s = load_settings()
    assert s.kafka_bootstrap == "127.0.0.1:19092"
    assert s.state_dir == tmp_path / "state"
    assert s.models == ["fraud", "churn"]


def test_external_services_replace_the_local_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTML_BOOTSTRAP_SERVERS", "kafka-0:9092,kafka-1:9092")
    monkeypatch.setenv("RTML_REDIS_URL", "redis://cache:6379/2")
    s = load_settings()
    assert s.kafka_bootstrap == "kafka-0:9092,kafka-1:9092"
    assert s.redis == "redis://cache:6379/2"


def test_toml_file_is_read_and_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "rtml.toml").write_text("redis_port = 16379\nkafka_port = 29092\n")
    monkeypatch.setenv("RTML_KAFKA_PORT", "39092")
    s = load_settings()
    assert s.redis_port == 16379
    assert s.kafka_port == 39092


def test_config_file_location_is_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text("prometheus_port = 19090\n")
    monkeypatch.setenv("RTML_CONFIG", str(other))
    assert load_settings().prometheus_port == 19090


@pytest.mark.parametrize(
    ("env", "value", "words"),
    [
        ("RTML_KAFKA_PORT", "70000", ["RTML_KAFKA_PORT", "65535", "70000"]),
        ("RTML_REDIS_PORT", "abc", ["RTML_REDIS_PORT", "integer", "abc"]),
        ("RTML_MODELS", '["fraud/v2"]', ["RTML_MODELS", "fraud/v2", "topic name"]),
        ("RTML_SCORER_THRESHOLD", "1.5", ["RTML_SCORER_THRESHOLD", "[0, 1]", "'model'", "1.5"]),
        ("RTML_SCORER_THRESHOLD", "high", ["RTML_SCORER_THRESHOLD", "[0, 1]", "'model'", "high"]),
    ],
)
def test_bad_setting_gives_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, words: list[str]
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_the_scorer_threshold_is_each_models_own_unless_a_score_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from serving.config import ScorerConfig

    assert load_settings().scorer_threshold == "model"
    assert ScorerConfig.from_settings(load_settings(), "fraud", "events.transactions").threshold is None
    monkeypatch.setenv("RTML_SCORER_THRESHOLD", " 0.3 ")
    assert ScorerConfig.from_settings(load_settings(), "fraud", "events.transactions").threshold == 0.3


def test_unknown_setting_in_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "rtml.toml").write_text("kafka_prot = 1\n")
    with pytest.raises(SettingsError, match="KAFKA_PROT"):
        load_settings()

"""The monitor's process settings: topics, group and where a new group starts reading."""

from __future__ import annotations

import pytest

from rtml.settings import SettingsError, load_settings
from stream_jobs.drift.config import DriftJobConfig


def test_the_job_config_follows_the_settings() -> None:
    config = DriftJobConfig.from_settings(
        load_settings(monitor_start_at="latest", monitor_features=["amount"]), "fraud", "transactions"
    )
    assert (config.predictions_topic, config.labels_topic, config.group) == (
        "predictions.fraud",
        "labels.transactions",
        "rtml-drift-fraud",
    )
    assert config.start_at == "latest" and config.monitor.features == ("amount",)
    assert DriftJobConfig.from_settings(load_settings(), "fraud", "transactions").start_at == "earliest"


def test_a_start_position_other_than_earliest_or_latest_is_refused() -> None:
    with pytest.raises(SettingsError, match="RTML_MONITOR_START_AT is invalid"):
        load_settings(monitor_start_at="middle")

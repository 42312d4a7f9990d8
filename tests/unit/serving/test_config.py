from __future__ import annotations

import pytest

from rtml.settings import SettingsError, load_settings
from rtml.topics import topic_specs
from serving.config import ScorerConfig


def test_defaults_come_from_settings_and_options_override_them() -> None:
    settings = load_settings(scorer_batch_max_records=64, scorer_batch_max_ms=5, scorer_instance_id="pod-0")
    config = ScorerConfig.from_settings(settings, "fraud", "events.transactions")
    assert (config.events_topic, config.predictions_topic, config.shadow_topic) == (
        "events.transactions",
        "predictions.fraud",
        "predictions.fraud.shadow",
    )
    assert config.policy.max_records == 64 and config.policy.max_wait_s == 0.005
    assert config.group == "rtml-scorer-fraud" and config.transactional_id == "rtml-scorer-fraud-pod-0"
    assert not config.exactly_once and config.challenger_alias is None and config.component == "scorer-fraud"
    assert config.runtime.providers == ("tensorrt", "cuda", "cpu") and config.runtime.max_batch == 64

    chosen = ScorerConfig.from_settings(settings, "fraud", "events.transactions", exactly_once=True, canary_share=0.1)
    assert chosen.exactly_once and chosen.challenger_alias == "challenger"
    assert ScorerConfig.from_settings(settings, "fraud", "x", shadow_alias="v9").challenger_alias == "v9"


def test_the_scorers_topics_are_in_the_topic_contracts() -> None:
    names = {spec.name for spec in topic_specs(load_settings())}
    assert {"predictions.fraud", "predictions.fraud.shadow", "dlq.predictions.fraud.shadow"} <= names


def test_inconsistent_options_are_refused() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="same challenger"):
        ScorerConfig.from_settings(settings, "fraud", "e", shadow_alias="a", canary_share=0.2, canary_alias="b")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ScorerConfig.from_settings(settings, "fraud", "e", canary_share=2.0)
    with pytest.raises(ValueError, match="champion"):
        ScorerConfig.from_settings(settings, "fraud", "e", shadow_alias="champion")
    with pytest.raises(SettingsError, match="RTML_SCORER_PROVIDERS"):
        load_settings(scorer_providers=["rocm"])

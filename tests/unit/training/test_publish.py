"""Alias changes as ``ModelUpdate`` records, and a failed publish reported in one line."""

from __future__ import annotations

import math
from typing import Any

import pytest

from rtml.kafka.producer import ProduceError
from rtml.settings import load_settings
from schemas.registry import codec_for
from training.publish import TOPIC, PublishError, UpdatePublisher, model_update
from training.versions import AliasChange, RegisteredVersion

SHA = "a" * 64


def version(v: str, **metrics: float) -> RegisteredVersion:
    return RegisteredVersion(
        "fraud", v, f"run{v}", 0, {"sha256": SHA, "artifact_uri": f"/m/{v}/model.onnx"}, (), metrics
    )


def test_update_for_a_promotion() -> None:
    change = AliasChange("champion", version("3", pr_auc=0.7, **{"validation.pr_auc": 0.6}), version("2"), "promoted")
    update = model_update(change, ts_ms=1_700_000_000_000)
    assert (update.model, update.version, update.alias, update.action) == ("fraud", "3", "champion", "promoted")
    assert (update.previous_version, update.sha256, update.artifact_uri) == ("2", SHA, "/m/3/model.onnx")
    assert update.metrics == {"pr_auc": 0.7} and update.ts == 1_700_000_000_000
    assert codec_for(TOPIC).decode(codec_for(TOPIC).encode(update)) == update


def test_update_drops_non_finite_metrics_and_has_no_previous_for_a_first_champion() -> None:
    update = model_update(AliasChange("champion", version("1", pr_auc=math.nan, f1=0.5), None, "registered"))
    assert update.previous_version is None and update.metrics == {"f1": 0.5} and update.action == "registered"


class FakeProducer:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, Any, Any]] = []
        self.fail = fail

    def send(self, topic: str, key: Any, record: Any) -> None:
        self.sent.append((topic, key, record))

    def flush(self, timeout_s: float = 30.0) -> None:
        if self.fail:
            raise ProduceError("1 records unacknowledged after 15 s")


def test_publish_sends_keyed_by_model() -> None:
    producer = FakeProducer()
    publisher = UpdatePublisher(load_settings(), producer)  # type: ignore[arg-type]
    update = publisher.publish(AliasChange("champion", version("2"), version("1"), "rolled_back"))
    assert producer.sent == [(TOPIC, "fraud", update)] and update.action == "rolled_back"


def test_failed_publish_says_the_registry_moved_and_how_to_catch_up() -> None:
    publisher = UpdatePublisher(load_settings(), FakeProducer(fail=True))  # type: ignore[arg-type]
    with pytest.raises(PublishError) as caught:
        publisher.publish(AliasChange("champion", version("2"), None, "promoted"))
    message = str(caught.value)
    assert "champion is version 2 in the registry" in message and "rtml models publish fraud" in message
    assert "\n" not in message

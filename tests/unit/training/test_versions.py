"""Run directories, version tags and alias history: the registry's pure half."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from training.versions import (
    AliasHistory,
    RegisteredVersion,
    RunDirError,
    RunOutput,
    git_revision,
    previous_of,
    sha256_file,
    version_tags,
)


def run_dir(tmp_path: Path, metrics: dict[str, object] | None = None, **run: object) -> Path:
    (tmp_path / "model.onnx").write_bytes(b"onnx bytes")
    metrics = metrics if metrics is not None else {"slice": "test", "test": {"pr_auc": 0.5, "roc_auc": 0.9}}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    record = {"feature_names": ["a", "b"], "params": {"lr": 0.01, "hidden": [8, 4]}, "seed": 7, "world_size": 2}
    (tmp_path / "run.json").write_text(json.dumps({**record, **run}))
    return tmp_path


def test_missing_file_names_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="has no model.onnx"):
        RunOutput.load(tmp_path)


def test_run_json_needs_feature_names(tmp_path: Path) -> None:
    run_dir(tmp_path)
    (tmp_path / "run.json").write_text('{"feature_names": "a,b"}')
    with pytest.raises(RunDirError, match="feature_names"):
        RunOutput.load(tmp_path)


def test_metrics_flattened_with_the_headline_slice_unprefixed(tmp_path: Path) -> None:
    metrics = {
        "slice": "test",
        "threshold": 0.3,
        "test": {"pr_auc": 0.5, "roc_auc": 0.9, "positives": 12},
        "validation": {"pr_auc": 0.4, "roc_auc": float("nan")},
        "beats_baseline": {"pr_auc": True},
    }
    run = RunOutput.load(run_dir(tmp_path, metrics))
    got = run.numeric_metrics()
    assert got["pr_auc"] == 0.5 and got["test.pr_auc"] == 0.5 and got["validation.pr_auc"] == 0.4
    assert got["threshold"] == 0.3 and got["positives"] == 12
    assert "validation.roc_auc" not in got and "beats_baseline.pr_auc" not in got


def test_flat_metrics_pass_through(tmp_path: Path) -> None:
    run = RunOutput.load(run_dir(tmp_path, {"pr_auc": 0.7, "f1": 0.5}))
    assert run.numeric_metrics() == {"pr_auc": 0.7, "f1": 0.5}


def test_params_are_flat_strings(tmp_path: Path) -> None:
    params = RunOutput.load(run_dir(tmp_path)).params()
    assert params == {"seed": "7", "world_size": "2", "lr": "0.01", "hidden": "[8, 4]"}


def test_tags_carry_lineage(tmp_path: Path) -> None:
    lineage = {
        "delta_versions": {"features.b": 3, "features.a": 12},
        "feature_definition_hash": "abc",
        "trigger": "d-9",
    }
    run = RunOutput.load(run_dir(tmp_path, lineage=lineage, data="/sets/t.parquet"))
    tags = version_tags(run, sha256="f" * 64, artifact_uri="/m.onnx", trigger=None, code_revision="rev")
    assert tags == {
        "sha256": "f" * 64,
        "feature_names": '["a", "b"]',
        "feature_definition_hash": "abc",
        "delta_versions": '{"features.a": 12, "features.b": 3}',
        "code_revision": "rev",
        "trigger": "d-9",
        "artifact_uri": "/m.onnx",
        "training_set": "/sets/t.parquet",
    }
    assert version_tags(run, sha256="0", artifact_uri="x", trigger="manual", code_revision="r")["trigger"] == "manual"


def test_tags_without_lineage_say_unknown_and_manual(tmp_path: Path) -> None:
    tags = version_tags(
        RunOutput.load(run_dir(tmp_path)), sha256="0", artifact_uri="x", trigger=None, code_revision="r"
    )
    assert tags["feature_definition_hash"] == "unknown" and tags["delta_versions"] == "{}"
    assert tags["trigger"] == "manual" and "training_set" not in tags


def test_registered_version_reads_its_tags() -> None:
    v = RegisteredVersion(
        "fraud", "3", "r", 0, {"feature_names": '["a"]', "delta_versions": '{"t": 1}', "sha256": "s"}, ("champion",)
    )
    assert v.feature_names == ["a"] and v.delta_versions == {"t": 1} and v.sha256 == "s"
    assert v.trigger == "unknown" and v.training_set is None


def test_recorded_sha256(tmp_path: Path) -> None:
    run = RunOutput.load(run_dir(tmp_path, model={"file": "model.onnx", "sha256": "abc"}))
    assert run.recorded_sha256 == "abc"


def test_sha256_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 3_000_000)
    assert sha256_file(tmp_path / "f") == hashlib.sha256(b"x" * 3_000_000).hexdigest()


def test_git_revision_outside_a_checkout_is_unknown(tmp_path: Path) -> None:
    assert git_revision(tmp_path) == "unknown"


def test_history_appends_and_rolls_back_to_the_previous_holder() -> None:
    h = AliasHistory().moved_to("1").moved_to("2").moved_to("3")
    assert h.versions == ("1", "2", "3")
    h, target = h.rolled_back("3")
    assert (h.versions, target) == (("1", "2"), "2")
    h, target = h.rolled_back("2")
    assert (h.versions, target) == (("1",), "1")
    assert h.rolled_back("1") == (AliasHistory(), None)


def test_history_remembers_a_holder_set_outside_rtml() -> None:
    h = AliasHistory(("1",)).moved_to("4", current="2")
    assert h.versions == ("1", "2", "4")
    assert AliasHistory(("1", "2")).rolled_back("5") == (AliasHistory(("1", "2")), "2")


def test_history_after_rollback_then_promotion() -> None:
    h, _ = AliasHistory(("1", "2")).rolled_back("2")
    assert h.moved_to("3", current="1").versions == ("1", "3")


def test_history_tag_round_trip_is_bounded_and_tolerant() -> None:
    h = AliasHistory()
    for v in range(80):
        h = h.moved_to(str(v))
    assert len(h.versions) == 50 and h.versions[-1] == "79"
    assert AliasHistory.from_tag(h.to_tag()) == h
    assert AliasHistory.from_tag("not json") == AliasHistory() == AliasHistory.from_tag(None)


def test_previous_of() -> None:
    assert previous_of(["1", "2", "3"], "3") == "2"
    assert previous_of(["3"], "3") is None
    assert previous_of(["1", "2"], "5") is None

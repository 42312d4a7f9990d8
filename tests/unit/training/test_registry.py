"""The registry adapter's pure parts: where the registry lives, names, artifact paths, error text.

The MLflow round trip itself is tests/integration/training/test_registry_roundtrip.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rtml.settings import load_settings
from training.registry import ModelRegistry, RegistryError, checked_name, default_tracking_uri, local_path


def test_default_registry_is_sqlite_under_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert default_tracking_uri(settings) == f"sqlite:///{tmp_path.resolve()}/mlflow/mlflow.db"
    registry = ModelRegistry.from_settings(settings)
    assert registry.artifact_root == (tmp_path / "mlflow" / "artifacts").resolve()
    assert (tmp_path / "mlflow").is_dir()


def test_a_tracking_uri_setting_wins(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, mlflow_tracking_uri="http://mlflow:5000")
    registry = ModelRegistry.from_settings(settings)
    assert registry.tracking_uri == "http://mlflow:5000" and registry.artifact_root is None


def test_local_paths_of_artifact_uris() -> None:
    assert local_path("file:///srv/a%20b/model.onnx") == Path("/srv/a b/model.onnx")
    assert local_path("/srv/model.onnx") == Path("/srv/model.onnx")
    assert local_path("s3://bucket/model.onnx") is None
    assert local_path("mlflow-artifacts:/1/abc/artifacts/model.onnx") is None


@pytest.mark.parametrize("name", ["", "fraud model", "fr'aud", "x" * 129])
def test_model_names_must_be_topic_safe(name: str) -> None:
    with pytest.raises(RegistryError, match="not a valid model name"):
        checked_name(name)


def test_unknown_version_is_one_registry_error() -> None:
    class NotFound(Exception):
        error_code = "RESOURCE_DOES_NOT_EXIST"

    registry = ModelRegistry("sqlite:///x.db")
    message = registry._explain("reading model 'fraud' version '9'", NotFound("Model Version not found\nmore"))
    assert message == "reading model 'fraud' version '9': Model Version not found; see `rtml models list`"
    other = registry._explain("listing", OSError("disk full"))
    assert other.startswith("listing failed at the MLflow registry sqlite:///x.db: disk full")
    assert "RTML_MLFLOW_TRACKING_URI" in other

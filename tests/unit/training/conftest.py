"""A small seeded training set on disk, shared by the training unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.synthetic_training import write_synthetic
from training.dataset import TrainingSet, load_training_set


@pytest.fixture(scope="module")
def small_set_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("training") / "small.parquet", n_rows=600, seed=7)


@pytest.fixture(scope="module")
def small_set(small_set_path: Path) -> TrainingSet:
    return load_training_set(small_set_path)

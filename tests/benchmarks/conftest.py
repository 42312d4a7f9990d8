"""Benchmarks share one broker (started here, on free ports) and print a summary at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rtml.settings import Settings
from tests.support.services import isolated_settings, running_stack


@pytest.fixture(scope="session")
def kafka_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = isolated_settings(tmp_path_factory.mktemp("bench"))
    with running_stack(settings, ["kafka"]):
        yield settings

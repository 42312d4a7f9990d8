"""PostgreSQL, its own Kafka broker and Kafka Connect with Debezium, on free ports, for the CDC tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rtml.settings import Settings
from rtml.stack.supervisor import Stack
from tests.support.services import isolated_settings, postgres_reachable_dir, running_stack


@pytest.fixture(scope="session")
def cdc_stack() -> Iterator[Stack]:
    with postgres_reachable_dir() as data_dir:
        settings = isolated_settings(data_dir)
        with running_stack(settings, ["kafka", "postgres", "connect"]) as stack:
            yield stack


@pytest.fixture(scope="session")
def cdc_settings(cdc_stack: Stack) -> Settings:
    return cdc_stack.settings

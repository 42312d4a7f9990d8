"""One Kafka broker and one Redis for the whole integration session, on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rtml.kafka.clients import admin_client
from rtml.settings import Settings
from rtml.stack.supervisor import Stack
from rtml.topics import create_topics, topic_specs
from tests.support.services import isolated_settings, running_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = isolated_settings(tmp_path_factory.mktemp("stack"))
    with running_stack(settings, ["kafka", "redis"]) as stack:
        create_topics(admin_client(settings), topic_specs(settings))
        yield stack


@pytest.fixture(scope="session")
def settings(stack: Stack) -> Settings:
    return stack.settings

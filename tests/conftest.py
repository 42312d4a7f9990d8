"""Shared test set-up: tiers are marked by folder, so `-m "not integration"` works everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

TESTS = Path(__file__).parent

# Two cores run the broker, Redis, Flink and the tests: a per-example deadline only measures that load.
settings.register_profile("rtml", deadline=None)
settings.load_profile("rtml")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.fspath)).relative_to(TESTS).parts[0]
        if tier in ("integration", "e2e"):
            item.add_marker(getattr(pytest.mark, tier))
        elif tier == "benchmarks":
            item.add_marker(pytest.mark.benchmark)

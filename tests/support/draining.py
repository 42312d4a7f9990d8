"""Read a shared topic until what a test is waiting for has come, or a deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rtml.kafka.consumer import ValidatingConsumer


def collect_until(
    consumer: ValidatingConsumer, keep: Callable[[Any], bool], done: Callable[[list[Any]], bool], seconds: float = 90
) -> list[Any]:
    """Received records that ``keep`` accepts, batch by batch, until ``done(kept)`` or ``seconds``."""
    kept: list[Any] = []
    deadline = time.monotonic() + seconds
    for batch in consumer.batches(max_records=5000, timeout_s=0.5):
        kept.extend(r for r in batch if keep(r))
        if done(kept) or time.monotonic() > deadline:
            break
    return kept

"""Event times on the command line: ISO 8601 (UTC unless an offset is given) or epoch milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime

import typer


def parse_time(text: str) -> int:
    """Epoch ms of ``text``; ``typer.BadParameter`` with an example when it is neither form."""
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a time: use ISO 8601 (2026-11-27T12:00:00Z) or epoch ms") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)

"""The ``rtml`` command line as a user runs it, in a subprocess with the test's environment."""

from __future__ import annotations

import subprocess
import sys


def run_rtml(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``python -m rtml ARGS`` with ``env`` (wide terminal, so tables do not wrap), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "rtml", *args],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )

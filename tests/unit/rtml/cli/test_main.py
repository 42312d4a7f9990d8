"""The command line's entry point: a usage error is click's message and exit 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rtml", *args], capture_output=True, text=True, timeout=120)


def test_an_unknown_option_is_a_usage_error_not_a_traceback() -> None:
    done = run("up", "--no-such-option")
    assert done.returncode == 2, done.stderr
    assert "No such option: --no-such-option" in done.stderr and "Traceback" not in done.stderr


def test_a_bad_value_names_the_parameter() -> None:
    done = run("produce", "bank-changes", "--rate", "-1")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--rate" in done.stderr

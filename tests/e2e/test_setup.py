"""scripts/setup as a newcomer meets it: a re-run does nothing; a missing prerequisite is one line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def setup(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / "setup")], env={**os.environ, **env}, capture_output=True, text=True, timeout=600
    )


def test_second_run_does_nothing() -> None:
    setup()  # whatever the first run had to do
    again = setup()
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("setup: ready in")
    assert "installing" not in again.stdout and "fetching" not in again.stdout and "creating" not in again.stdout


def test_missing_java_is_one_clear_line() -> None:
    result = setup(JAVA_HOME="/nonexistent/jdk")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "Java 17+ not found" in result.stderr and "JAVA_HOME" in result.stderr


def test_wrong_python_is_one_clear_line() -> None:
    result = setup(PYTHON="/nonexistent/python3")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "PYTHON=" in result.stderr

"""ManagedProcess with a real (tiny) child process: pid file, stale pid, graceful stop, early exit."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rtml.stack.process import ManagedProcess, StackError


@pytest.fixture
def proc(tmp_path: Path) -> ManagedProcess:
    managed = ManagedProcess("sleeper", tmp_path / "run", tmp_path / "logs" / "sleeper.log")
    yield managed
    managed.stop(2.0)


def test_start_records_pid_and_stop_removes_it(proc: ManagedProcess) -> None:
    pid = proc.start([sys.executable, "-c", "import time; time.sleep(60)"], ports=[])
    assert proc.pid() == pid
    assert proc.start([sys.executable, "-c", "pass"], ports=[]) == pid  # already running: no second copy
    assert proc.stop(5.0) is True
    assert proc.pid() is None and not proc.pid_file.exists()
    assert proc.stop(5.0) is False


def test_a_reused_pid_is_not_ours(proc: ManagedProcess) -> None:
    import os

    proc.run_dir.mkdir(parents=True)
    proc.pid_file.write_text(f"{os.getpid()} 1\n")  # a live pid, but another start time
    assert proc.pid() is None
    assert not proc.pid_file.exists()


def test_term_ignored_then_killed(proc: ManagedProcess) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    proc.start([sys.executable, "-c", code], ports=[])
    proc.wait_ready(lambda: "up" in proc.log_file.read_text(), 10)
    assert proc.stop(0.5) is True
    assert proc.pid() is None


def test_early_exit_reports_the_log(proc: ManagedProcess) -> None:
    proc.start([sys.executable, "-c", "print('bad config line 3'); raise SystemExit(1)"], ports=[])
    with pytest.raises(StackError, match="bad config line 3"):
        proc.wait_ready(lambda: False, 10)


def test_missing_executable_says_to_run_setup(proc: ManagedProcess) -> None:
    with pytest.raises(StackError, match="scripts/setup"):
        proc.start(["/nonexistent/redis-server"], ports=[])

"""A supervised local process: pid file, log file, graceful stop, stale pid recovery."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rtml.stack.ports import port_in_use, port_owner


class StackError(Exception):
    """A local service could not be started or stopped; the message says what to do."""


@dataclass
class ManagedProcess:
    """One service process. The pid file holds the pid and the process start time, so a pid reused
    by another process after a crash or reboot is never mistaken for ours."""

    name: str
    run_dir: Path
    log_file: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    def pid(self) -> int | None:
        """The live pid of this service, or None. A stale pid file is removed."""
        try:
            pid_text, started = self.pid_file.read_text().split()
            pid = int(pid_text)
        except (FileNotFoundError, ValueError):
            return None
        if _start_time(pid) == started:
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(
        self,
        argv: Sequence[str],
        *,
        ports: Sequence[tuple[str, int, str]],
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> int:
        """Start the process unless it already runs. ``ports`` are (host, port, setting) it will bind;
        ``user``: run it as that OS user (its primary group, no other groups; needs root)."""
        if (pid := self.pid()) is not None:
            return pid
        for host, port, setting in ports:
            if port_in_use(host, port):
                owner = port_owner(port)
                who = f" by pid {owner[0]} ({owner[1]})" if owner else ""
                raise StackError(
                    f"{self.name}: port {port} on {host} is already in use{who}; "
                    f"stop that process or choose another port with {setting}=<port>"
                )
        account = os_account(user)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            try:
                proc = subprocess.Popen(
                    list(argv),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **(env or {})},
                    cwd=cwd,
                    start_new_session=True,  # Ctrl-C in the shell does not kill the stack
                    user=account[0] if account else None,
                    group=account[1] if account else None,
                    extra_groups=[] if account else None,
                )
            except FileNotFoundError:
                raise StackError(
                    f"{self.name}: executable {argv[0]!r} not found; run scripts/setup to install it"
                ) from None
        self.pid_file.write_text(f"{proc.pid} {_start_time(proc.pid)}\n")
        return proc.pid

    def wait_ready(self, check: Callable[[], bool], timeout_s: float) -> None:
        """Poll ``check`` until it returns True; fail early if the process died."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.pid() is None:
                raise StackError(f"{self.name} exited during start-up; last log lines:\n{self.log_tail()}")
            if check():
                return
            time.sleep(0.25)
        raise StackError(
            f"{self.name} did not become ready within {timeout_s:.0f} s; see {self.log_file}:\n{self.log_tail()}"
        )

    def stop(self, timeout_s: float) -> bool:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL. Returns False when it was not running."""
        pid = self.pid()
        if pid is None:
            return False
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.1)
        if alive(pid):
            _signal(pid, signal.SIGKILL)
            while alive(pid):
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log yet)"
        return "\n".join("    " + line for line in text[-lines:])


def os_account(user: str | None) -> tuple[int, int] | None:
    """(uid, primary gid) of ``user``; None for None (the current user)."""
    if user is None:
        return None
    import pwd

    try:
        account = pwd.getpwnam(user)
    except KeyError:
        raise StackError(f"OS user {user!r} does not exist; create it or choose another one") from None
    return account.pw_uid, account.pw_gid


def _start_time(pid: int) -> str | None:
    """Start time (clock ticks since boot) of a live, non-zombie process, else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    if fields[0] == "Z":  # exited, not yet reaped
        _reap(pid)
        return None
    return fields[19]  # field 22 of stat(5); fields[0] is field 3


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (an exited child not yet reaped counts as gone)."""
    return _start_time(pid) is not None


def _reap(pid: int) -> None:
    """Collect a child that exited (only our own children can be reaped)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _signal(pid: int, sig: signal.Signals) -> None:
    """Signal the process's whole group (it leads one: started with start_new_session), so helpers it
    spawned (PyFlink's gateway JVM, Python workers) stop with it."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

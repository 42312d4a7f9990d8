"""PostgreSQL's own client tools, found where Debian puts them: ``psql`` for SQL, ``pg_isready`` for readiness.

No Python driver: the stack needs a handful of statements (create the database, seed it, read a slot's lag),
and the Debian package that brings the server brings ``psql`` with it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

from rtml.settings import Settings
from rtml.stack.process import StackError

DEBIAN_ROOT = Path("/usr/lib/postgresql")


def find_bin_dir(settings: Settings, debian_root: Path = DEBIAN_ROOT) -> Path:
    """The directory holding ``postgres``, ``initdb``, ``psql``: ``RTML_POSTGRES_BIN_DIR``, else the newest
    ``/usr/lib/postgresql/<version>/bin``, else the one on PATH."""
    if settings.postgres_bin_dir is not None:
        if not (settings.postgres_bin_dir / "postgres").exists():
            raise StackError(f"postgres: no `postgres` in RTML_POSTGRES_BIN_DIR={settings.postgres_bin_dir}")
        return settings.postgres_bin_dir
    versions = sorted(
        (p for p in debian_root.glob("*/bin") if (p / "postgres").exists()),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parent.name.split(".")],
    )
    if versions:
        return versions[-1]
    on_path = shutil.which("postgres")
    if on_path:
        return Path(on_path).resolve().parent
    raise StackError(
        f"postgres: PostgreSQL server binaries not found (looked in {debian_root}/*/bin and PATH); "
        "run scripts/setup (it installs Debian's postgresql) or set RTML_POSTGRES_BIN_DIR"
    )


class Psql:
    """Runs SQL through ``psql`` over TCP as the stack's superuser; stops at the first error."""

    def __init__(self, settings: Settings, bin_dir: Path | None = None) -> None:
        self.settings = settings
        self.bin_dir = bin_dir or find_bin_dir(settings)

    def run(self, sql: str, db: str | None = None, *, single_transaction: bool = False, timeout_s: float = 60) -> str:
        """Run ``sql`` (read from stdin) in ``db``; return the unaligned, tuples-only output."""
        s = self.settings
        argv = [str(self.bin_dir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]  # -X: no ~/.psqlrc
        argv += self._connection(db or s.postgres_db)
        if single_transaction:
            argv.append("--single-transaction")
        env = {**os.environ, "PGPASSWORD": s.postgres_password, "PGCONNECT_TIMEOUT": "5", "PGAPPNAME": "rtml"}
        try:
            done = subprocess.run(argv, input=sql, capture_output=True, text=True, env=env, timeout=timeout_s)
        except FileNotFoundError:
            raise StackError(f"postgres: {argv[0]} not found; run scripts/setup to install PostgreSQL") from None
        if done.returncode != 0:
            raise StackError(f"postgres: SQL failed in database {db or s.postgres_db!r}: {done.stderr.strip()}")
        return done.stdout.strip()

    def session(self, db: str | None = None) -> PsqlSession:
        """One ``psql`` kept open: statements written to it run as they come, each in its own transaction."""
        s = self.settings
        argv = [str(self.bin_dir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        argv += self._connection(db or s.postgres_db)
        env = {**os.environ, "PGPASSWORD": s.postgres_password, "PGCONNECT_TIMEOUT": "5", "PGAPPNAME": "rtml"}
        return PsqlSession(argv, env)

    def value(self, sql: str, db: str | None = None) -> str | None:
        """The first column of the first row, or None when there is no row."""
        out = self.run(sql, db)
        return out.splitlines()[0] if out else None

    def is_ready(self) -> bool:
        argv = [str(self.bin_dir / "pg_isready"), "-q", *self._connection("postgres"), "-t", "1"]
        try:
            return subprocess.run(argv, timeout=5, check=False).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def _connection(self, db: str) -> list[str]:
        s = self.settings
        return ["-h", s.host, "-p", str(s.postgres_port), "-U", s.postgres_user, "-d", db]


class PsqlSession:
    """A running ``psql`` reading statements from a pipe. ``execute`` raises StackError (with psql's own message)
    once psql has stopped, for instance after a failed statement (``ON_ERROR_STOP``)."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        try:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
            )
        except FileNotFoundError:
            raise StackError(f"postgres: {argv[0]} not found; run scripts/setup to install PostgreSQL") from None

    def execute(self, statement: str) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        if self.process.poll() is not None:
            self._failed()
        try:
            stdin.write(statement.rstrip() + "\n")
            stdin.flush()
        except BrokenPipeError:
            self._failed()

    def close(self, timeout_s: float = 60) -> None:
        """Wait for every statement written so far to run; StackError if one failed."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            code = self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise StackError(f"postgres: psql did not finish its statements within {timeout_s:.0f} s") from None
        if code != 0:
            self._failed()

    def _failed(self) -> NoReturn:
        self.process.wait(10)
        message = (self.process.stderr.read() if self.process.stderr else "").strip()
        raise StackError(f"postgres: psql stopped: {message or f'exit {self.process.returncode}'}")

    def __enter__(self) -> PsqlSession:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.process.kill()
            self.process.wait(10)

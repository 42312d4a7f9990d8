"""PostgreSQL from Debian's package with its own cluster under the data dir: the CDC source (docs/decisions/0013).

``wal_level=logical`` for Debezium (pgoutput). The cluster is created with ``initdb`` on first start; the demo
database is created and seeded once (``infra/postgres/bank.sql`` + rows from ``rtml/datagen/bank.py``, in one
transaction, so a failed seed leaves nothing half done). PostgreSQL refuses to run as root: when rtml runs as
root the server runs as the OS user ``postgres`` (created by the Debian package), its data directory owned by it.
"""

from __future__ import annotations

import contextlib
import csv
import grp
import io
import os
import pwd
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rtml.stack.process import StackError
from rtml.stack.psql import Psql, find_bin_dir
from rtml.stack.service import LocalService

if TYPE_CHECKING:
    from rtml.datagen.bank import CustomerRow


class PostgresService(LocalService):
    name = "postgres"

    @property
    def address(self) -> str:
        s = self.settings
        return f"postgresql://{s.postgres_user}@{s.host}:{s.postgres_port}/{s.postgres_db}"

    @property
    def data(self) -> Path:
        return self.dir / "data"

    def ports(self) -> list[tuple[str, int, str]]:
        return [(self.settings.host, self.settings.postgres_port, "RTML_POSTGRES_PORT")]

    def os_user(self) -> str | None:
        """Who runs the server: the setting, else ``postgres`` for root (PostgreSQL refuses root), else us."""
        if self.settings.postgres_os_user is not None:
            return self.settings.postgres_os_user
        return "postgres" if os.geteuid() == 0 else None

    def psql(self) -> Psql:
        return Psql(self.settings)

    def customers(self) -> list[CustomerRow]:
        """The demo database's customers as they are now (closed ones have no row), by id."""
        from rtml.datagen.bank import CustomerRow

        out = self.psql().run(
            "COPY (SELECT id, segment, country, credit_limit, "
            "(extract(epoch FROM account_opened_at) * 1000)::bigint, array_to_string(risk_flags, ' ') "
            "FROM bank.customers ORDER BY id) TO STDOUT WITH (FORMAT csv)"
        )
        return [
            CustomerRow(r[0], r[1], r[2], float(r[3]), int(r[4]), tuple(r[5].split()))
            for r in csv.reader(io.StringIO(out))
            if r
        ]

    def prepare(self) -> list[str]:
        bin_dir = find_bin_dir(self.settings)
        user = self.os_user()
        if user is not None:
            check_reachable_by(user, self.dir)
        if not (self.data / "PG_VERSION").exists():
            self._initdb(bin_dir, user)
        config = self.render(
            "postgres/postgresql.conf",
            self.dir / "postgresql.conf",
            host=self.settings.host,
            port=self.settings.postgres_port,
        )
        return [str(bin_dir / "postgres"), "-D", str(self.data), "-c", f"config_file={config}"]

    def _initdb(self, bin_dir: Path, user: str | None) -> None:
        """A new cluster: the stack's superuser with a password (scram over TCP), UTF-8, UTC."""
        self.data.mkdir(parents=True, exist_ok=True)
        owner = _account(user) if user else None
        if owner:
            os.chown(self.data, owner.pw_uid, owner.pw_gid)
        self.data.chmod(0o700)
        with tempfile.NamedTemporaryFile("w", dir=self.dir, prefix=".pw", delete=False) as pwfile:
            pwfile.write(self.settings.postgres_password + "\n")
        try:
            if owner:
                os.chown(pwfile.name, owner.pw_uid, owner.pw_gid)
            argv = [
                str(bin_dir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                self.settings.postgres_user,
                f"--pwfile={pwfile.name}",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            ]
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=180,
                user=owner.pw_uid if owner else None,
                group=owner.pw_gid if owner else None,
                extra_groups=[] if owner else None,
            )
        finally:
            Path(pwfile.name).unlink(missing_ok=True)
        if done.returncode != 0:
            raise StackError(f"postgres: initdb in {self.data} failed:\n{done.stdout}{done.stderr}")

    def ready(self) -> bool:
        return self.psql().is_ready()

    def start(self) -> int:
        pid = super().start()
        self.bootstrap()
        return pid

    def bootstrap(self) -> bool:
        """Create the demo database and seed it, once. Returns True when it seeded now."""
        from rtml.datagen.bank import bank_rows, seed_sql
        from rtml.datagen.config import GeneratorConfig

        s, psql = self.settings, self.psql()
        if psql.value(f"SELECT 1 FROM pg_database WHERE datname = '{s.postgres_db}'", "postgres") is None:
            psql.run(f'CREATE DATABASE "{s.postgres_db}"', "postgres")
        if psql.value("SELECT 1 FROM pg_namespace WHERE nspname = 'bank'") is not None:
            return False
        config = GeneratorConfig(
            start_ts=0, seed=s.bank_seed, n_customers=s.bank_customers, n_merchants=s.bank_merchants
        )
        customers, merchants = bank_rows(config)
        schema = (s.infra_dir / "postgres" / "bank.sql").read_text()
        psql.run(schema + seed_sql(customers, merchants), single_transaction=True, timeout_s=120)
        return True

    def stop(self) -> bool:
        """Fast shutdown (SIGINT to the postmaster: clients disconnected, a clean checkpoint), then the usual
        SIGTERM/SIGKILL fallback. SIGTERM would be a "smart" shutdown that waits for every client."""
        pid = self.process.pid()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + self.settings.stop_timeout_s
        while time.monotonic() < deadline and self.process.pid() is not None:
            time.sleep(0.1)
        self.process.stop(5.0)
        return True

    def slot_lag_bytes(self, slot: str) -> int | None:
        """WAL bytes the replication slot has not confirmed yet (what the connector still owes), or None."""
        try:
            value = self.psql().value(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
                f"FROM pg_replication_slots WHERE slot_name = '{slot}'"
            )
        except StackError:
            return None
        return int(value) if value else None


def _account(user: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise StackError(
            f"postgres: OS user {user!r} does not exist (PostgreSQL refuses to run as root); install Debian's "
            "postgresql (scripts/setup), which creates `postgres`, or set RTML_POSTGRES_OS_USER"
        ) from None


def check_reachable_by(user: str, directory: Path) -> None:
    """Fail with one line unless ``user`` can enter every directory down to ``directory`` (created if needed)."""
    account = _account(user)
    groups = {account.pw_gid} | {g.gr_gid for g in _groups_of(user)}
    directory.mkdir(parents=True, exist_ok=True)
    for path in [*reversed(directory.resolve().parents), directory.resolve()]:
        mode = path.stat()
        if mode.st_uid == account.pw_uid:
            ok = bool(mode.st_mode & stat.S_IXUSR)
        elif mode.st_gid in groups:
            ok = bool(mode.st_mode & stat.S_IXGRP)
        else:
            ok = bool(mode.st_mode & stat.S_IXOTH)
        if not ok:
            raise StackError(
                f"postgres: the server runs as OS user {user!r} (PostgreSQL refuses root), which cannot enter "
                f"{path} (mode {stat.S_IMODE(mode.st_mode):o}); allow it (chmod o+x {path}) "
                "or set RTML_DATA_DIR to a directory it can reach"
            )


def _groups_of(user: str) -> list[grp.struct_group]:
    return [g for g in grp.getgrall() if user in g.gr_mem]

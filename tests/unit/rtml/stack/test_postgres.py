"""PostgreSQL's binaries found at run time, the OS user it runs as, and a clear line when it cannot reach its dir."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from rtml.settings import load_settings
from rtml.stack.postgres import PostgresService, check_reachable_by
from rtml.stack.process import StackError
from rtml.stack.psql import find_bin_dir
from tests.support.services import postgres_reachable_dir


def fake_install(root: Path, version: str) -> Path:
    bin_dir = root / version / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "postgres").touch()
    return bin_dir


def test_newest_debian_version_wins(tmp_path: Path) -> None:
    fake_install(tmp_path, "9.6")
    newest = fake_install(tmp_path, "15")
    fake_install(tmp_path, "13")
    (tmp_path / "16" / "bin").mkdir(parents=True)  # a client-only install: no server
    assert find_bin_dir(load_settings(), debian_root=tmp_path) == newest


def test_bin_dir_setting_wins_and_is_checked(tmp_path: Path) -> None:
    chosen = fake_install(tmp_path, "14")
    assert find_bin_dir(load_settings(postgres_bin_dir=chosen), debian_root=tmp_path / "none") == chosen
    with pytest.raises(StackError, match="RTML_POSTGRES_BIN_DIR"):
        find_bin_dir(load_settings(postgres_bin_dir=tmp_path), debian_root=tmp_path)


def test_missing_binaries_say_to_run_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StackError, match="run scripts/setup"):
        find_bin_dir(load_settings(), debian_root=tmp_path / "none")


def test_root_runs_the_server_as_postgres() -> None:
    service = PostgresService(load_settings())
    assert service.os_user() == ("postgres" if os.geteuid() == 0 else None)
    assert PostgresService(load_settings(postgres_os_user="db")).os_user() == "db"


@pytest.mark.skipif(not any(p.pw_name == "postgres" for p in pwd.getpwall()), reason="no OS user postgres here")
def test_unreachable_data_dir_is_one_clear_line() -> None:
    with postgres_reachable_dir() as base:
        check_reachable_by("postgres", base / "open" / "postgres")  # no error
        closed = base / "closed"
        (closed / "data").mkdir(parents=True)
        closed.chmod(0o700)
        with pytest.raises(StackError) as info:
            check_reachable_by("postgres", closed / "data" / "postgres")
    message = str(info.value)
    assert f"cannot enter {closed.resolve()} (mode 700)" in message
    assert "chmod o+x" in message and "RTML_DATA_DIR" in message


def test_unknown_os_user_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="does not exist"):
        check_reachable_by("no-such-user-rtml", tmp_path)

"""Port checks: is a port taken, by whom, and a free one for tests."""

from __future__ import annotations

import errno
import os
import re
import socket
import subprocess
from pathlib import Path


def port_in_use(host: str, port: int) -> bool:
    """True when something listens on (host, port): binding it fails with EADDRINUSE."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno in (errno.EADDRINUSE, errno.EACCES)
    return False


_handed_out: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the kernel picks it), and not one this process handed out before:
    ports picked one after another for services that start later would otherwise repeat now and then (the
    kernel may give a released port again), and two services would then want the same one."""
    for _ in range(1000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise OSError("no free port the kernel offered was new to this process")


def port_owner(port: int) -> tuple[int, str] | None:
    """(pid, command) of the process listening on ``port``, when /proc tells us (Linux, same user)."""
    inodes = _listening_inodes(port)
    if not inodes:
        return _ss_owner(port)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    return int(proc.name), cmd.strip()[:120]
        except OSError:  # a process that ended or is not ours to read
            continue
    return _ss_owner(port)


def _ss_owner(port: int) -> tuple[int, str] | None:
    """Fallback: ask iproute2's ``ss`` (it reads the kernel's socket diagnostics, not /proc files)."""
    try:
        out = subprocess.run(
            ["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'users:\(\("(?P<cmd>[^"]*)",pid=(?P<pid>\d+)', out)
    return (int(match.group("pid")), match.group("cmd")) if match else None


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(inode)
    return inodes

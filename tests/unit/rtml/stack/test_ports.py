"""Port probing used before a service starts."""

from __future__ import annotations

import os
import socket

from rtml.stack.ports import free_port, port_in_use, port_owner


def test_listening_port_is_in_use_and_its_owner_is_found() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert port_in_use("127.0.0.1", port)
        owner = port_owner(port)
        assert owner is not None and owner[0] == os.getpid()


def test_free_port_is_free() -> None:
    port = free_port()
    assert not port_in_use("127.0.0.1", port)
    assert port_owner(port) is None


def test_free_port_never_hands_out_a_port_twice() -> None:
    ports = [free_port() for _ in range(1000)]  # released at once: the kernel alone would repeat some of them
    assert len(set(ports)) == len(ports)

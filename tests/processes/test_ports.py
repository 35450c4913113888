"""Which block of ports an app gets: blocks with a listener are skipped, TIME_WAIT ones are not."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from gitdeploy.processes.ports import _ports_free


def free_block() -> int:
    for base in range(41000, 60000, 100):
        if _ports_free(base):
            return base
    raise AssertionError("no free block of ports on this machine")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    base = free_block()
    server = socket.create_server(("127.0.0.1", base))
    yield server
    server.close()


def test_a_listening_port_takes_its_block(listener: socket.socket) -> None:
    base = listener.getsockname()[1]
    assert not _ports_free(base)
    assert not _ports_free(base - 1)  # the block's second port is checked too


def test_a_port_in_time_wait_is_free(listener: socket.socket) -> None:
    base = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", base))
    accepted, _ = listener.accept()
    accepted.close()  # the server side closes first: its port goes to TIME_WAIT
    client.recv(1)
    client.close()
    listener.close()
    assert _ports_free(base)

"""Mirrors a release log to a reader (the pusher's terminal) while it grows.

The log file is the truth; the reader only gets a copy. Writes wait for the reader at most
``stall_limit`` seconds and stop on EPIPE, so a pusher that went away never blocks anything.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable
from pathlib import Path

POLL_SECONDS = 0.01
CHECK_SECONDS = 0.02
STALL_LIMIT = 5.0
CHUNK = 4096  # <= PIPE_BUF: once poll() says a pipe is writable, this much never blocks


class ReaderGone(Exception):
    pass


def write(out_fd: int, data: bytes, stall_limit: float = STALL_LIMIT) -> None:
    """Write everything, or raise ReaderGone when the reader left or stalled."""
    poller = select.poll()
    poller.register(out_fd, select.POLLOUT)
    view = memoryview(data)
    while view:
        events = poller.poll(stall_limit * 1000)
        if not events:
            raise ReaderGone("the reader stopped reading")
        if events[0][1] & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
            raise ReaderGone("the reader went away")
        try:
            written = os.write(out_fd, view[:CHUNK])
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ReaderGone(str(exc)) from None
        view = view[written:]


def mirror(
    path: Path,
    finished: Callable[[], bool],
    out_fd: int,
    *,
    start: int = 0,
    stall_limit: float = STALL_LIMIT,
) -> bool:
    """Copy ``path`` from byte ``start`` to ``out_fd`` until ``finished()`` and nothing is
    left to copy. Return False if the reader went away first."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.lseek(fd, start, os.SEEK_SET)
        last_check = 0.0
        done = False
        while True:
            data = os.read(fd, 65536)
            if data:
                try:
                    write(out_fd, data, stall_limit)
                except ReaderGone:
                    return False
                continue
            if done:
                return True
            now = time.monotonic()
            if now - last_check >= CHECK_SECONDS:
                last_check = now
                done = finished()  # one more read after this catches the last lines
                continue
            time.sleep(POLL_SECONDS)
    finally:
        os.close(fd)

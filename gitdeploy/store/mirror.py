"""Mirrors a release log to a reader (the pusher's terminal) while it grows.

The log file is the truth; the reader only gets a copy. Writes wait for the reader at most
``stall_limit`` seconds and stop on EPIPE, so a pusher that went away never blocks anything.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import time
from collections.abc import Callable
from pathlib import Path

POLL_SECONDS = 0.01
CHECK_SECONDS = 0.02  # without inotify: how often to look for the end
SAFETY_CHECK = 0.25  # with inotify: a worker that died writes nothing, so look anyway
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


def touch_log(path: Path) -> None:
    """Tell a mirror of ``path`` to look again at the release's status (its final state is
    in the ledger now): an inotify event on the log's directory, no byte written."""
    with contextlib.suppress(OSError):
        os.utime(path)


class Changes:
    """Wakes up when a file in one of ``directories`` is written (inotify), so a waiting
    reader costs no CPU; where inotify is missing it degrades to polling."""

    IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE = 0x2, 0x4, 0x8, 0x80, 0x100
    IN_NONBLOCK, IN_CLOEXEC = 0o4000, 0o2000000

    def __init__(self, directories: list[Path]) -> None:
        self.fd = -1
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(self.IN_NONBLOCK | self.IN_CLOEXEC)
        except (OSError, AttributeError):
            return
        if fd < 0:
            return
        mask = (self.IN_MODIFY | self.IN_ATTRIB | self.IN_CLOSE_WRITE | self.IN_MOVED_TO
                | self.IN_CREATE)
        for directory in directories:
            libc.inotify_add_watch(fd, os.fsencode(directory), mask)
        self.fd = fd

    def wait(self, timeout: float) -> None:
        if self.fd < 0:
            time.sleep(min(timeout, POLL_SECONDS))
            return
        if select.select([self.fd], [], [], timeout)[0]:
            with contextlib.suppress(BlockingIOError):
                while os.read(self.fd, 65536):
                    pass

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)


def mirror(
    path: Path,
    finished: Callable[[], bool],
    out_fd: int,
    *,
    start: int = 0,
    stall_limit: float = STALL_LIMIT,
) -> bool:
    """Copy ``path`` from byte ``start`` to ``out_fd`` until ``finished()`` and nothing is
    left to copy. Return False if the reader went away first.

    It sleeps until something in the log's directory changes: a new line, or the worker
    touching the log once the release's status is final (see touch_log). ``finished()`` is
    asked at most every 20 ms, and at least every 250 ms (a worker that died says nothing).
    """
    changes = Changes([path.parent])
    fd = os.open(path, os.O_RDONLY)
    try:
        os.lseek(fd, start, os.SEEK_SET)
        done = False
        checked = 0.0
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
            since = time.monotonic() - checked
            if since >= CHECK_SECONDS:
                checked = time.monotonic()
                done = finished()  # one more read after this catches the last lines
                if not done:
                    changes.wait(SAFETY_CHECK if changes.fd >= 0 else CHECK_SECONDS)
            else:
                changes.wait(CHECK_SECONDS - since)
    finally:
        os.close(fd)
        changes.close()

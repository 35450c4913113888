"""flock(2) locks: held by an open file, released by the kernel when the holder dies."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path


class FileLock:
    """An exclusive lock on ``path``; the file's text says who holds it."""

    def __init__(self, path: Path, fd: int | None = None) -> None:
        self.path = path
        self.fd = fd

    def acquire(self, timeout: float | None = None) -> bool:
        """Block until held (timeout None), or give up after ``timeout`` seconds (0: try once)."""
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if timeout is None:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            return True
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)

    def describe_holder(self, text: str) -> None:
        """Record who holds the lock, for the messages of those who wait."""
        assert self.fd is not None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, text.encode(), 0)

    def holder(self) -> str:
        try:
            return self.path.read_text().strip()
        except OSError:
            return ""

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_held(path: Path) -> bool:
    """True if some live process holds the lock on path."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def wait_until_free(path: Path) -> None:
    """Block until nobody holds the lock on path (then let it go at once)."""
    with contextlib.suppress(FileNotFoundError):
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
        finally:
            os.close(fd)


@contextlib.contextmanager
def held(path: Path) -> Iterator[FileLock]:
    lock = FileLock(path)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()


class Handover:
    """Hands a held lock to a process that is not our child (a worker in its own systemd
    unit): the same open file goes over a private unix socket (SCM_RIGHTS), so the lock is
    held by someone at every moment, and the giver may close its copy once it is taken."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gitdeploy-"))  # 0700; short (sun_path)
        self.path = self.dir / "lock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(self.path))
        self.sock.listen(1)

    def give(self, fd: int, timeout: float, gone: Callable[[], bool]) -> bool:
        """Wait for the taker (ours: same uid) and hand it ``fd``; False if it never came
        within ``timeout`` or ``gone()`` says it has ended."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(0.2)
        while True:
            try:
                conn, _ = self.sock.accept()
                break
            except TimeoutError:
                if time.monotonic() >= deadline or gone():
                    return False
        with conn:
            conn.settimeout(max(1.0, deadline - time.monotonic()))
            uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                      struct.calcsize("3i")))[1]
            if uid != os.getuid():
                return False
            socket.send_fds(conn, [b"L"], [fd])
            try:
                return conn.recv(1) == b"k"
            except OSError:
                return False

    def close(self) -> None:
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def take_handed_over(path: Path, timeout: float = 30) -> int:
    """The taker's side of ``Handover``: the held lock's descriptor (not inherited by
    children)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(str(path))
        _, fds, _, _ = socket.recv_fds(conn, 1, 1)
        if len(fds) != 1:
            raise OSError(f"no lock was handed over on {path}")
        os.set_inheritable(fds[0], False)
        conn.sendall(b"k")
        return fds[0]

"""Filesystem primitives, locks and the log mirror, on the real kernel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gitdeploy.store.locks import FileLock, is_held, wait_until_free


def test_lock_is_released_when_its_holder_dies(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(path)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)\n")],
        stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
    assert is_held(path)
    assert not FileLock(path).acquire(timeout=0.2)
    holder.kill()
    holder.wait()
    assert not is_held(path)
    wait_until_free(path)
    assert FileLock(path).acquire(timeout=0)


def test_inherited_lock_stays_held_after_the_parent_closes(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "lock")
    lock.acquire()
    assert lock.fd is not None
    child = subprocess.Popen(["sleep", "30"], pass_fds=(lock.fd,))
    lock.release()
    assert is_held(tmp_path / "lock")
    child.kill()
    child.wait()
    assert not is_held(tmp_path / "lock")

"""Filesystem primitives, locks and the log mirror, on the real kernel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gitdeploy.store.locks import FileLock, Handover, is_held, wait_until_free


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


def test_a_lock_handed_over_to_a_stranger_never_lapses(tmp_path: Path) -> None:
    """The taker is not our child (as a worker in its own unit): it gets the same open file
    over the socket, so the lock is held while the giver closes its copy."""
    lock = FileLock(tmp_path / "lock")
    assert lock.acquire(timeout=0) and lock.fd is not None
    handover = Handover()
    taker = subprocess.Popen([sys.executable, "-c", (
        "import pathlib, sys, time\n"
        "from gitdeploy.store.locks import take_handed_over\n"
        f"take_handed_over(pathlib.Path({str(handover.path)!r}))\n"
        "print('taken', flush=True)\nsys.stdin.read()\n")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
    try:
        assert handover.give(lock.fd, 30, lambda: taker.poll() is not None)
        lock.release()
        assert taker.stdout is not None and taker.stdout.readline() == b"taken\n"
        assert is_held(tmp_path / "lock")  # by the taker alone now
        assert not FileLock(tmp_path / "lock").acquire(timeout=0.2)
    finally:
        handover.close()
        assert taker.stdin is not None
        taker.stdin.close()
        taker.wait(timeout=10)
    assert not is_held(tmp_path / "lock")


def test_a_handover_nobody_takes_gives_up(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "lock")
    assert lock.acquire(timeout=0) and lock.fd is not None
    handover = Handover()
    try:
        assert not handover.give(lock.fd, 30, lambda: True)  # the taker has ended
        assert not handover.give(lock.fd, 0.3, lambda: False)  # or never came
    finally:
        handover.close()
    assert not handover.dir.exists()

"""Filesystem primitives, locks and the log mirror, on the real kernel."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from gitdeploy import stream
from gitdeploy.fsops import atomic_write, read_regular_file, remove_tree, swap_symlink
from gitdeploy.locks import FileLock, is_held, wait_until_free


def test_atomic_write_replaces_with_mode(tmp_path: Path) -> None:
    target = tmp_path / "f"
    atomic_write(target, b"one", 0o600)
    atomic_write(target, b"two", 0o640)
    assert target.read_bytes() == b"two"
    assert target.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["f"]


def test_swap_symlink_never_leaves_a_gap(tmp_path: Path) -> None:
    link = tmp_path / "current"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    swap_symlink(link, "a")
    stop = threading.Event()
    gaps: list[str] = []

    def watch() -> None:
        while not stop.is_set():
            try:
                os.readlink(link)
            except FileNotFoundError:
                gaps.append("missing")

    watcher = threading.Thread(target=watch)
    watcher.start()
    for i in range(500):
        swap_symlink(link, "ab"[i % 2])
    stop.set()
    watcher.join()
    assert gaps == []
    assert sorted(os.listdir(tmp_path)) == ["a", "b", "current"]


def test_read_regular_file_refuses_links(tmp_path: Path) -> None:
    (tmp_path / "Procfile").symlink_to("/etc/passwd")
    (tmp_path / "real").write_text("x")
    try:
        read_regular_file(tmp_path, "Procfile")
    except ValueError as exc:
        assert "regular file" in str(exc)
    else:
        raise AssertionError("a symlink was followed")
    assert read_regular_file(tmp_path, "real") == b"x"
    assert read_regular_file(tmp_path, "missing") is None


def test_remove_tree_copes_with_read_only_dirs(tmp_path: Path) -> None:
    tree = tmp_path / "t"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f").write_text("x")
    os.chmod(tree / "a" / "b", 0o500)
    os.chmod(tree / "a", 0o500)
    remove_tree(tree)
    assert not tree.exists()


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


def test_mirror_copies_until_finished(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_bytes(b"one\n")
    read_fd, write_fd = os.pipe()
    finished = threading.Event()

    def writer() -> None:
        with log.open("ab") as handle:
            for i in range(3):
                time.sleep(0.05)
                handle.write(f"line {i}\n".encode())
                handle.flush()
        finished.set()

    thread = threading.Thread(target=writer)
    thread.start()
    assert stream.mirror(log, finished.is_set, write_fd)
    thread.join()
    os.close(write_fd)
    assert os.read(read_fd, 1000) == b"one\nline 0\nline 1\nline 2\n"


def test_mirror_gives_up_on_a_stalled_reader(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_bytes(b"x" * 1_000_000)
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    assert stream.mirror(log, lambda: False, write_fd, stall_limit=0.5) is False
    assert time.monotonic() - started < 5
    os.close(read_fd)
    os.close(write_fd)


def test_mirror_gives_up_on_a_closed_reader(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_bytes(b"x\n")
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    assert stream.mirror(log, lambda: False, write_fd) is False
    os.close(write_fd)

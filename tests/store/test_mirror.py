"""Filesystem primitives, locks and the log mirror, on the real kernel."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from gitdeploy.store import mirror


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
    assert mirror.mirror(log, finished.is_set, write_fd)
    thread.join()
    os.close(write_fd)
    assert os.read(read_fd, 1000) == b"one\nline 0\nline 1\nline 2\n"


def test_mirror_gives_up_on_a_stalled_reader(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_bytes(b"x" * 1_000_000)
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    assert mirror.mirror(log, lambda: False, write_fd, stall_limit=0.5) is False
    assert time.monotonic() - started < 5
    os.close(read_fd)
    os.close(write_fd)


def test_mirror_gives_up_on_a_closed_reader(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_bytes(b"x\n")
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    assert mirror.mirror(log, lambda: False, write_fd) is False
    os.close(write_fd)

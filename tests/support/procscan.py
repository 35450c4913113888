"""Who shows a value in their command line: what `ps` would show any user of the machine."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path


def argv_holding(*values: str) -> list[str]:
    """The command lines (``pid: argv``) of every process that holds one of ``values``."""
    wanted = [value.encode() for value in values]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        if any(value in cmdline for value in wanted):
            words = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry.name}: {words}")
    return found


def unique_sleep(seconds: int) -> str:
    """A ``sleep`` command line no other process has: app code runs in its own pid namespace,
    so the test finds its processes on the host by their command line, not by ``$$``."""
    return f"sleep {seconds}.{secrets.randbelow(10**9):09d}"


def pids_holding(value: str) -> dict[int, list[str]]:
    """The host pid and argv of every process whose command line, its words joined by
    spaces as `ps` shows it, holds ``value``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
        except OSError:
            continue
        if value in " ".join(argv):
            found[int(entry.name)] = argv
    return found


class ArgvWatch:
    """Samples every process's command line until stopped; ``hits`` are those that held a
    value, ``samples`` how many times /proc was read."""

    def __init__(self, *values: str) -> None:
        self.values = values
        self.hits: set[str] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.hits.update(argv_holding(*self.values))
            self.samples += 1
            self._stop.wait(0.01)

    def __enter__(self) -> ArgvWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

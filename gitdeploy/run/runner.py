"""Runs the user's commands (the only shell in gitdeploy: ``/bin/sh -c CMD``) under the guard.

Output is read from one pipe (stdout and stderr merged, as on Heroku), split into lines and
handed to ``on_line`` as it arrives; the command runs in its own session and process group,
with a timeout after which the guard terminates everything it started.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gitdeploy.run.lines import LineSplitter

DRAIN_AFTER_EXIT = 2.0


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None
    signal: int | None
    timed_out: bool
    error: str | None
    seconds: float
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.cancelled

    def describe(self) -> str:
        if self.cancelled:
            return "was cancelled"
        if self.timed_out:
            return "timed out"
        if self.signal is not None:
            try:
                name = signal.Signals(self.signal).name
            except ValueError:
                name = str(self.signal)
            return f"was killed by signal {name}"
        if self.exit_code is not None:
            return f"exited with status {self.exit_code}"
        return f"could not run ({self.error})"


GUARD = str(Path(__file__).with_name("guard.py"))


def guard_argv(command: str, *, kill_grace: float, status_fd: int) -> list[str]:
    """The guard runs as a script without ``site`` (-S): it needs only the standard library,
    and skipping site-packages and the editable-install finder saves ~10 ms per command."""
    return [
        sys.executable, "-I", "-S", GUARD,
        f"{kill_grace:g}", str(os.getpid()), str(status_fd), "--", "/bin/sh", "-c", command,
    ]


def run_command(
    command: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    kill_grace: float,
    on_line: Callable[[str], None],
    cancelled: Callable[[], bool] | None = None,
) -> RunResult:
    """Run ``command`` to its end, its timeout or until ``cancelled()``; every output line
    goes to on_line."""
    started = time.monotonic()
    out_r, out_w = os.pipe()
    status_r, status_w = os.pipe()
    try:
        proc = subprocess.Popen(
            guard_argv(command, kill_grace=kill_grace, status_fd=status_w),
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=out_w,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
            pass_fds=(status_w,),
        )
    finally:
        os.close(out_w)
        os.close(status_w)
    splitter = LineSplitter()
    deadline = started + timeout
    timed_out = stopped = False
    hard_deadline: float | None = None
    exited_at: float | None = None
    poller = select.poll()
    poller.register(out_r, select.POLLIN)
    try:
        while True:
            now = time.monotonic()
            if hard_deadline is None and (now >= deadline or (cancelled and cancelled())):
                timed_out, stopped = now >= deadline, not now >= deadline
                proc.send_signal(signal.SIGTERM)
                hard_deadline = now + kill_grace + 5
            if hard_deadline is not None and now >= hard_deadline and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # the guard itself is stuck: last resort
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > DRAIN_AFTER_EXIT:
                break
            wait = max(0.0, min(deadline - now, 0.5)) if hard_deadline is None else 0.5
            if poller.poll(wait * 1000):
                data = os.read(out_r, 65536)
                if not data:
                    break
                for line in splitter.feed(data):
                    on_line(line)
        for line in splitter.flush():
            on_line(line)
        proc.wait()
        report = os.read(status_r, 4096).decode(errors="replace")
    finally:
        os.close(out_r)
        os.close(status_r)
    seconds = time.monotonic() - started
    kind, _, value = report.partition(" ")
    if kind == "exit":
        return RunResult(int(value), None, timed_out, None, seconds, stopped)
    if kind == "signal":
        return RunResult(None, int(value), timed_out, None, seconds, stopped)
    return RunResult(None, None, timed_out, value or "no status from the guard", seconds,
                     stopped)

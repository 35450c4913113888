"""Runs the user's commands (the only shell in gitdeploy: ``/bin/sh -c CMD``), each in the
app's sandbox.

Output is read from one pipe (stdout and stderr merged, as on Heroku), split into lines and
handed to ``on_line`` as it arrives. The sandbox contains the command: it has its own process
namespace, so when the command exits every process it started (background jobs, daemons
that ``setsid()`` away) ends with it, and it dies with the worker (``--die-with-parent``).
On a timeout every process in it gets SIGTERM, then the sandbox is killed after the grace
time. In the shared-trust mode (no sandbox) only the command's process group is reached.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gitdeploy.run.lines import LineSplitter
from gitdeploy.sandbox.bwrap import Sandbox, env_arguments

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


class _Sandboxed:
    """The running sandbox, known from bubblewrap's status reports (JSON lines on a pipe):
    its first process and its pid namespace, then the command's exit code."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self.text = b""
        self.namespace: int | None = None
        self.child: int | None = None  # the sandbox's first process (pid 1 inside)
        self.exit_code: int | None = None

    def read(self) -> None:
        if self.fd is None:
            return
        while select.select([self.fd], [], [], 0)[0]:
            data = os.read(self.fd, 4096)
            if not data:
                break
            self.text += data
        for line in self.text.decode(errors="replace").splitlines():
            try:
                report = json.loads(line)
            except ValueError:
                continue
            self.namespace = report.get("pid-namespace", self.namespace)
            self.child = report.get("child-pid", self.child)
            self.exit_code = report.get("exit-code", self.exit_code)

    def wait_empty(self, seconds: float = 5) -> None:
        """Until the kernel has ended every process of the sandbox. When its first process
        (pid 1 inside) exits, the kernel kills the rest and that exit completes only once
        they are all gone; bubblewrap may report before it has, so wait for it (pidfd)."""
        if self.child is None:
            return
        try:
            pidfd = os.pidfd_open(self.child)
        except OSError:
            return  # gone and reaped: so was everything in its namespace
        try:
            try:  # the pid is still the sandbox's (a zombie has no namespace left to check)
                same = os.stat(f"/proc/{self.child}/ns/pid").st_ino == self.namespace
            except OSError:
                same = True
            if same:
                select.select([pidfd], [], [], seconds)
        finally:
            os.close(pidfd)

    def processes(self) -> list[int]:
        """Every living process in the sandbox's pid namespace (not the zombies that wait
        for whoever reaps them)."""
        found = []
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    if os.stat(f"/proc/{name}/ns/pid").st_ino != self.namespace:
                        continue
                    with open(f"/proc/{name}/stat", "rb") as handle:
                        state = handle.read().rpartition(b")")[2].split()[0]
                except (OSError, IndexError):
                    continue
                if state not in (b"Z", b"X"):
                    found.append(int(name))
        return found


def _terminate(proc: subprocess.Popen[bytes], box: _Sandboxed) -> None:
    """SIGTERM to every process of the command (the sandbox's, else its process group)."""
    box.read()
    pids = box.processes() if box.namespace is not None else []
    if box.fd is None:
        _signal_group(proc.pid, signal.SIGTERM)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pid, sig)


def start(sandbox: Sandbox, command: str | list[str], env: Mapping[str, str], *,
          status_fd: int | None = None, **options: Any) -> subprocess.Popen[bytes]:
    """``/bin/sh -c command`` in ``sandbox`` with ``env`` (an argv list, gitdeploy's own
    build steps, runs as it is). Sandboxed, bubblewrap itself gets an empty environment and
    reads ``env`` from a private memory file: nothing of the app's config acts on the host
    side (a PATH, an LD_PRELOAD), and no value is in argv."""
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else command
    if not sandbox.enabled:
        return subprocess.Popen(argv, cwd=sandbox.host_cwd, env=dict(env), **options)
    env_fd = os.memfd_create("gitdeploy-env", 0)  # not inherited but by pass_fds
    try:
        os.write(env_fd, env_arguments(env))
        os.lseek(env_fd, 0, os.SEEK_SET)
        fds = (env_fd,) if status_fd is None else (env_fd, status_fd)
        return subprocess.Popen(
            sandbox.argv(argv, env_fd=env_fd, status_fd=status_fd),
            cwd=sandbox.host_cwd, env={}, pass_fds=fds, **options)
    finally:
        os.close(env_fd)


def run_command(
    command: str | list[str],
    *,
    sandbox: Sandbox,
    env: Mapping[str, str],
    timeout: float,
    kill_grace: float,
    on_line: Callable[[str], None],
    cancelled: Callable[[], bool] | None = None,
) -> RunResult:
    """Run ``command`` in ``sandbox`` to its end, its timeout or until ``cancelled()``; every
    output line goes to on_line."""
    started = time.monotonic()
    out_r, out_w = os.pipe()
    status_r, status_w = os.pipe() if sandbox.enabled else (None, None)
    try:
        proc = start(sandbox, command, env, status_fd=status_w, stdin=subprocess.DEVNULL,
                     stdout=out_w, stderr=out_w, start_new_session=True)
    except OSError as exc:
        for fd in (out_r, status_r):
            if fd is not None:
                os.close(fd)
        return RunResult(None, None, False, str(exc), time.monotonic() - started)
    finally:
        for fd in (out_w, status_w):
            if fd is not None:
                os.close(fd)
    box = _Sandboxed(status_r)
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
                _terminate(proc, box)
                hard_deadline = now + kill_grace
            if hard_deadline is not None and now >= hard_deadline and proc.poll() is None:
                proc.kill()  # the sandbox and all in it (or the shell) go at once
                _signal_group(proc.pid, signal.SIGKILL)
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > DRAIN_AFTER_EXIT:
                break  # unsandboxed: a daemon of the command holds the pipe
            wait = max(0.0, min(deadline - now, 0.5)) if hard_deadline is None else 0.2
            if poller.poll(wait * 1000):
                data = os.read(out_r, 65536)
                if not data:
                    break
                for line in splitter.feed(data):
                    on_line(line)
        for line in splitter.flush():
            on_line(line)
        code = proc.wait()
        box.read()
        box.wait_empty()
    finally:
        os.close(out_r)
        if status_r is not None:
            os.close(status_r)
        if not sandbox.enabled:
            _signal_group(proc.pid, signal.SIGKILL)  # what is left of its process group
    seconds = time.monotonic() - started
    if box.exit_code is not None:
        code = box.exit_code
    if code < 0:
        return RunResult(None, -code, timed_out, None, seconds, stopped)
    if sandbox.enabled and 128 < code <= 128 + 64:  # the sandbox's init reports 128 + N
        return RunResult(None, code - 128, timed_out, None, seconds, stopped)
    return RunResult(code, None, timed_out, None, seconds, stopped)

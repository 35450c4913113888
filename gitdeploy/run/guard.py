"""The parent of every user command (build, release, postdeploy).

Run as ``python -I -S guard.py GRACE PARENT_PID STATUS_FD -- ARGV...`` in a new session.
It is a child subreaper, so every process the command starts stays below it, even one that
calls setsid() to daemonize. When the command exits, when the worker asks it to stop
(SIGTERM), or when the worker dies (PR_SET_PDEATHSIG), it terminates every descendant, waits
GRACE seconds, then kills what is left. Nothing the command started outlives it, so no orphan
keeps migrating unobserved. It reports how the command ended on STATUS_FD ("exit N",
"signal N" or "error TEXT"). Kept free of imports from the rest of gitdeploy: it starts fast.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
WATCHED = {signal.SIGCHLD, *STOP_SIGNALS}

_libc = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, value: int) -> None:
    if _libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl failed")


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (ppid, state) for every process, from /proc."""
    table: dict[int, tuple[int, str]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        table[int(name)] = (int(fields[1]), fields[0].decode())
    return table


def living_descendants(root: int) -> list[int]:
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _state) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: list[int] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            stack.append(child)
            if table[child][1] not in ("Z", "X"):
                found.append(child)
    return found


def _reap() -> list[tuple[int, int]]:
    ended: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        ended.append((pid, status))


def _signal_all(sig: int, done: set[int] | None = None) -> bool:
    """Send ``sig`` to every living descendant (not again to those in ``done``); were any?"""
    pids = living_descendants(os.getpid())
    for pid in pids:
        if done is not None:
            if pid in done:
                continue
            done.add(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return bool(pids)


def _none_left() -> bool:
    """No descendant, in two scans a moment apart: a scan of /proc can miss a process whose
    parent exits while it is read (it is reparented to us a moment later)."""
    _reap()
    if living_descendants(os.getpid()):
        return False
    signal.sigtimedwait([signal.SIGCHLD], 0.01)
    _reap()
    return not living_descendants(os.getpid())


def terminate_all(grace: float) -> None:
    """TERM every descendant (and each one that appears later, once), give them ``grace``
    seconds, then KILL until none is left."""
    termed: set[int] = set()
    if not _signal_all(signal.SIGTERM, termed) and _none_left():
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if _none_left():
            return
        _signal_all(signal.SIGTERM, termed)
        signal.sigtimedwait([signal.SIGCHLD], 0.05)
    for _ in range(100):
        if not _signal_all(signal.SIGKILL) and _none_left():
            break
        signal.sigtimedwait([signal.SIGCHLD], 0.05)
        _reap()
    _reap()


def _spawn(argv: list[str]) -> int:
    pid = os.fork()
    if pid == 0:  # child: undo what the guard changed, then become the command
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            for sig in (*STOP_SIGNALS, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            os.execvp(argv[0], argv)
        except BaseException as exc:
            os.write(2, f"cannot run {argv[0]}: {exc}\n".encode())
        finally:
            os._exit(127)
    return pid


def main(args: list[str]) -> int:
    grace, parent, status_fd = float(args[0]), int(args[1]), int(args[2])
    argv = args[4:] if args[3] == "--" else args[3:]
    os.set_inheritable(status_fd, False)
    signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    report = "error the worker was gone before the command started"
    if os.getppid() == parent:
        child = _spawn(argv)
        report = "error stopped"
        while True:
            info = signal.sigtimedwait(WATCHED, 1.0)
            if info is not None and info.si_signo in STOP_SIGNALS:
                break
            ended = dict(_reap())
            if child in ended:
                status = ended[child]
                if os.WIFSIGNALED(status):
                    report = f"signal {os.WTERMSIG(status)}"
                else:
                    report = f"exit {os.waitstatus_to_exitcode(status)}"
                break
            if os.getppid() != parent:
                break
    terminate_all(grace)
    with contextlib.suppress(OSError):
        os.write(status_fd, report.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

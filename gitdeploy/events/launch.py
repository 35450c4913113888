"""Release-creating events: deploy, config change, rollback, promotion.

Each one records a pending release, starts its worker detached (in its own systemd unit when
a manager is reachable, else in a new session; stdin from /dev/null, output to the release
log, never to the caller's pipes), and returns. The caller then mirrors the log with
follow(). The release's worker lock is taken before the release is recorded and handed to
the worker (over a private socket, or as an inherited file descriptor), so no one ever sees
a pending release without a live owner.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Any

from gitdeploy import faults
from gitdeploy.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, GitdeployError
from gitdeploy.model.release import Release
from gitdeploy.model.states import PostdeployStatus, Reason, Status
from gitdeploy.processes import units
from gitdeploy.processes.systemd import Systemd
from gitdeploy.release.recovery import reconcile
from gitdeploy.resources import gitdeploy_command
from gitdeploy.run.cmdline import set_cmdline
from gitdeploy.store import mirror, oplog
from gitdeploy.store.live import worker_alive
from gitdeploy.store.locks import FileLock, Handover
from gitdeploy.store.releaselog import warning
from gitdeploy.store.server import Server

HANDOVER_TIMEOUT = 30  # seconds for a worker in its unit to start and take its lock


def _worker_env_from(env: dict[str, str]) -> dict[str, str]:
    """The hook's environment without git's: GIT_* variables, and the git-core directory git
    puts in front of a hook's PATH."""
    drop = ("GIT_", "SSH_ORIGINAL_COMMAND")
    kept = {k: v for k, v in env.items() if not k.startswith(drop)}
    if "PATH" in kept:
        kept["PATH"] = os.pathsep.join(part for part in kept["PATH"].split(os.pathsep)
                                       if os.path.basename(part.rstrip("/")) != "git-core")
    return kept


def _worker_env() -> dict[str, str]:
    return _worker_env_from(dict(os.environ))


def start(
    server: Server,
    app: str,
    *,
    kind: str,
    description: str,
    commit: str | None = None,
    request: dict[str, Any] | None = None,
) -> Release:
    """Record a pending release of ``app`` and start its worker."""
    layout = server.layout
    lock: FileLock | None = None

    def take_worker_lock(version: int) -> None:
        nonlocal lock
        lock = FileLock(layout.release_lock(app, version))
        if not lock.acquire(timeout=5):
            raise GitdeployError(f"the lock of v{version} is held by someone else")

    release = server.ledger.new_release(
        app, kind=kind, description=description, user=server.user, commit=commit,
        request=request, before_insert=take_worker_lock,
    )
    assert lock is not None and lock.fd is not None
    faults.point("hook-recorded")
    try:
        _spawn_worker(server, app, release.version, lock.fd)
    except OSError as exc:
        server.ledger.transition(app, release.version, Status.FAILED, Reason.INTERRUPTED)
        raise GitdeployError(f"could not start the release worker: {exc}") from None
    finally:
        lock.release()  # the worker holds the same open lock now
    return release


def _start_in_unit(server: Server, app: str, version: int, lock_fd: int) -> bool:
    """With a service manager, the worker runs in its own transient unit: forked, it would be
    part of the caller's session and end with it (logind's ``KillUserProcesses=yes`` kills
    what an ssh session leaves behind at logout). The worker lock goes to it over a private
    socket. False: no manager, or the unit did not start or take the lock (then it has been
    stopped, nothing of the release ran, and the caller starts the worker itself)."""
    try:
        systemd = Systemd.from_environment()
    except GitdeployError:
        return False
    if systemd is None:
        return False
    unit = units.worker_unit(app, version)
    log = server.layout.log(app, version)
    os.close(os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))  # not systemd's mode
    handover = Handover()
    try:
        command = [*gitdeploy_command(), "--root", str(server.root), "worker", app,
                   f"v{version}", "--lock-socket", str(handover.path)]
        try:
            systemd.run_transient(unit, command, _worker_env(), log)
        except GitdeployError as exc:
            _without_unit(server, app, version, exc.message)
            return False
        if handover.give(lock_fd, HANDOVER_TIMEOUT, lambda: not systemd.is_running(unit)):
            return True
        systemd.systemctl("stop", unit, check=False)
        _without_unit(server, app, version, f"{unit} did not take the release's lock within "
                                            f"{HANDOVER_TIMEOUT} s")
        return False
    finally:
        handover.close()


def _without_unit(server: Server, app: str, version: int, why: str) -> None:
    """Said in the release log (the pusher reads it) and the operational log."""
    with open(server.layout.log(app, version), "a", encoding="utf-8") as log:
        log.write(warning(f"{why}; the worker runs in this session instead, and a logout "
                          "that ends the session's processes would stop it") + "\n")
    oplog.start(server.layout.oplog)  # a thread from here on: the worker is then not forked
    oplog.bind(app=app, version=version).warning("worker.no_unit", error=why)


def _spawn_worker(server: Server, app: str, version: int, lock_fd: int) -> None:
    """Start the worker detached: its own unit, else a new session; stdin from /dev/null,
    stdout and stderr on the release log, never the caller's pipes (or the push could not end
    before the worker).

    It is forked rather than started anew: the caller has already paid for the interpreter and
    the imports (~70 ms saved on every release). A caller with threads, which must not fork,
    starts ``gitdeploy worker`` instead. The forked worker's command line (which is the
    caller's: ``config:set API_TOKEN=...``) is rewritten to ``gitdeploy worker APP vN``; where
    it cannot be, the worker is started anew too, so no config value shows in ``ps``.
    """
    if _start_in_unit(server, app, version, lock_fd):
        return
    log_fd = os.open(server.layout.log(app, version), os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                     0o600)
    try:
        command = [*gitdeploy_command(), "--root", str(server.root), "worker", app,
                   f"v{version}", "--lock-fd", str(lock_fd)]
        if threading.active_count() > 1:
            subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd, cwd="/",
                start_new_session=True, pass_fds=(lock_fd,), env=_worker_env(),
            )
            return
        from gitdeploy.release.worker import run_worker

        server.close()  # no SQLite connection may cross a fork; the parent reopens lazily
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            code = EXIT_FAILED
            try:
                os.setsid()
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                os.dup2(log_fd, 1)
                os.dup2(log_fd, 2)
                os.chdir("/")
                kept = _worker_env_from(dict(os.environ))
                os.environ.clear()
                os.environ.update(kept)
                if not set_cmdline(["gitdeploy", "worker", app, f"v{version}"]):
                    os.set_inheritable(lock_fd, True)
                    os.execve(command[0], command, kept)
                code = run_worker(server.root, app, version, lock_fd)
            except BaseException as exc:
                _report_crash(server, exc)
            finally:
                os._exit(code)
    finally:
        os.close(log_fd)


def _report_crash(server: Server, exc: BaseException) -> None:
    """A worker that crashed outside its own handling: one line in the release log (the
    pusher reads it), the traceback in the operational log."""
    where = "the operational log could not be written"
    try:
        from gitdeploy.store import oplog

        oplog.start(server.layout.oplog)
        oplog.bind().error("worker.crash", exc_info=True)
        oplog.flush()
        where = f"details in {server.layout.oplog}"
    except Exception:  # the line below is all that can still be said
        pass
    line = warning(f"internal error in the worker ({exc.__class__.__name__}: {exc}); {where}")
    os.write(2, (line + "\n").encode(errors="replace"))


def release_finished(server: Server, app: str, version: int, postdeploy: bool = False) -> bool:
    """vN is final (and, with ``postdeploy``, so is its postdeploy phase)."""

    def done() -> bool:
        release = server.ledger.release(app, version)
        return release is None or (release.status.final and not (
            postdeploy and release.postdeploy_status == PostdeployStatus.RUNNING.value))

    if done():
        return True
    if not worker_alive(server, app, version):
        reconcile(server, app)
        return done()
    return False


def follow(server: Server, app: str, version: int, out_fd: int,
           postdeploy: bool = False) -> Release | None:
    """Mirror vN's log to ``out_fd`` until the release ends (and, with ``postdeploy``, its
    postdeploy phase too); None if the reader left."""
    path = server.layout.log(app, version)
    if not path.exists():
        path.touch(mode=0o600)
    if not mirror.mirror(path, lambda: release_finished(server, app, version, postdeploy),
                         out_fd):
        return None
    return server.ledger.release(app, version)


def exit_code(release: Release | None) -> int:
    """The caller's exit code for a release it followed."""
    if release is None or release.status is Status.SUCCEEDED:
        return EXIT_OK
    if release.reason == Reason.INVALID_APP_CONFIG:
        return EXIT_USAGE
    return EXIT_FAILED


"""Postdeploy: long work after the release is live (a reindex, a backfill), detached from the
push. One at a time per app: a newer one waits for, or cancels, a running one."""

from __future__ import annotations

import contextlib
import os
import signal

from gitdeploy.appconfig.settings import AppSettings
from gitdeploy.model.states import PostdeployStatus
from gitdeploy.run.runner import run_command
from gitdeploy.sandbox.bwrap import Sandbox
from gitdeploy.store.locks import FileLock
from gitdeploy.store.mirror import touch_log
from gitdeploy.store.oplog import Log
from gitdeploy.store.releaselog import ReleaseLog
from gitdeploy.store.server import Server


def run_postdeploy(server: Server, app: str, version: int, command: str,
                   settings: AppSettings, env: dict[str, str], sandbox: Sandbox,
                   log: ReleaseLog, oplog: Log) -> None:
    name = f"v{version}"
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))
    lock = FileLock(server.layout.postdeploy_lock(app))
    if not lock.acquire(timeout=0):
        holder = lock.holder()
        if settings.postdeploy.on_new_release == "cancel":
            log.header(f"Postdeploy: cancelling the postdeploy of {holder}")
            pid = holder.rpartition("pid ")[2]
            if pid.isdigit():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(pid), signal.SIGTERM)
        else:
            log.header(f"Postdeploy: waiting for the postdeploy of {holder} to end")
        lock.acquire()
    lock.describe_holder(f"{name} pid {os.getpid()}")
    try:
        if stop:
            status, outcome = PostdeployStatus.CANCELLED, "was cancelled before it started"
        else:
            log.header(f"Running postdeploy command: {command}")
            result = run_command(
                command, sandbox=sandbox, env=env,
                timeout=settings.postdeploy.timeout, kill_grace=settings.release.kill_grace,
                on_line=log.line, cancelled=lambda: bool(stop))
            status = (PostdeployStatus.CANCELLED if result.cancelled
                      else PostdeployStatus.TIMED_OUT if result.timed_out
                      else PostdeployStatus.SUCCEEDED if result.ok
                      else PostdeployStatus.FAILED)
            outcome = result.describe()
        if status is PostdeployStatus.SUCCEEDED:
            log.header(f"Postdeploy of {name} succeeded")
        else:
            log.header(f"Postdeploy of {name} {status}: the postdeploy command "
                       f"{outcome}; {name} stays live")
        server.ledger.update(app, version, postdeploy_status=status.value)
        touch_log(server.layout.log(app, version))
        oplog.info("postdeploy.end", status=status.value)
    finally:
        lock.release()

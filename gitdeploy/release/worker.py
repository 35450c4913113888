"""The release worker: one detached process per release, from build to verdict.

Order of work, each step durable before the next: wait for earlier releases of the app (by
version, so pushes go live in the order they were made) -> app lock -> build or reuse the
files -> record config -> env file -> release phase -> swap ``current`` -> processes ->
verdict in the log -> final status in the ledger -> prune old releases.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

from gitdeploy import faults
from gitdeploy.appconfig.environment import render_env_file
from gitdeploy.appconfig.masking import Masker
from gitdeploy.appconfig.settings import AppSettings
from gitdeploy.errors import EXIT_FAILED, EXIT_OK, GitdeployError
from gitdeploy.model.release import Release
from gitdeploy.model.states import PostdeployStatus, Reason, Status
from gitdeploy.release.failure import ReleaseFailure
from gitdeploy.release.golive import Switch
from gitdeploy.release.phase import run_release_phase
from gitdeploy.release.postdeploy import run_postdeploy
from gitdeploy.release.prepare import Prepared, Preparer
from gitdeploy.release.prune import prune
from gitdeploy.release.recovery import (
    discard_release_files,
    move_deploy_branch,
    repair_dead_releases,
)
from gitdeploy.release.sandboxing import app_environment, require_sandbox, sandbox_for
from gitdeploy.release.slug import create_slug, slug_from_commit
from gitdeploy.sandbox.bwrap import Sandbox, env_arguments
from gitdeploy.store import oplog
from gitdeploy.store.fsops import atomic_write, flush_filesystem, remove_tree
from gitdeploy.store.live import live_message, worker_alive
from gitdeploy.store.locks import FileLock, is_held, wait_until_free
from gitdeploy.store.mirror import touch_log
from gitdeploy.store.releaselog import ReleaseLog
from gitdeploy.store.server import Server


class Worker:
    def __init__(self, server: Server, app: str, version: int, lock_fd: int | None) -> None:
        self.server = server
        self.layout = server.layout
        self.ledger = server.ledger
        self.app = app
        self.version = version
        self.name = f"v{version}"
        self.worker_lock = FileLock(self.layout.release_lock(app, version), fd=lock_fd)
        if lock_fd is None:  # started by hand: take the lock ourselves
            self.worker_lock.acquire()
        self.turn_lock = FileLock(self.layout.turn_lock(app, version))
        self.turn_lock.acquire()
        self.log = ReleaseLog(self.layout.log(app, version))
        release = self.ledger.release(app, version)
        if release is None:
            raise GitdeployError(f"no release {self.name} of {app}")
        self.release: Release = release
        self.started = time.monotonic()
        self.switch = Switch(server, app, version, self.log)
        self.oplog = oplog.bind(app=app, version=version)
        self.postdeploy: tuple[str, AppSettings, dict[str, str], Sandbox] | None = None
        self.sandboxed = True
        self.slug_commit: str | None = None
        self.slug_files: Path | None = None

    # --- the whole run -----------------------------------------------------------------

    def run(self) -> Status:
        oplog.start(self.layout.oplog)
        self.oplog.info("release.start", kind=self.release.kind)
        if self.release.status is not Status.PENDING:
            self.turn_lock.release()
            return self.release.status
        app_lock = FileLock(self.layout.app_lock(self.app))
        try:
            self._wait_for_turn(app_lock)
            self._execute()
        except ReleaseFailure as failure:
            self._fail(failure.reason, failure.detail)
        except Exception as exc:
            self.oplog.error("release.crash", exc_info=True)
            self._fail(Reason.INTERRUPTED, f"internal error: {exc.__class__.__name__}: {exc}")
        finally:
            app_lock.release()
            self.turn_lock.release()  # the verdict is recorded: the next release may go
        if self.slug_commit is not None:  # failed releases keep theirs too, to look into
            self._pack_slug(self.slug_commit)
        elif self.slug_files is not None and self.slug_files.is_dir():
            self._pack_slug(None, self.slug_files)
        if self.postdeploy is not None:
            run_postdeploy(self.server, self.app, self.version, *self.postdeploy, self.log,
                           self.oplog)
        release = self.ledger.release(self.app, self.version)
        status = release.status if release is not None else Status.FAILED
        self.oplog.info("release.end", status=status.value,
                  seconds=round(time.monotonic() - self.started, 3),
                  peak_rss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  children_peak_rss_kb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        oplog.flush()
        return status

    def _wait_for_turn(self, app_lock: FileLock) -> None:
        """Earlier releases first, in version order, each until its verdict (not its slug
        packing or postdeploy); then the app lock."""
        announced: set[int] = set()
        while True:
            waiting = [r for r in self.ledger.unfinished(self.app)
                       if r.version < self.version and worker_alive(self.server, self.app,
                                                                    r.version)]
            if not waiting:
                break
            ahead = waiting[0]
            if ahead.version not in announced:
                announced.add(ahead.version)
                self.log.header(f"Waiting for {ahead.name} ({ahead.description}) to finish")
            turn = self.layout.turn_lock(self.app, ahead.version)
            if is_held(turn):
                wait_until_free(turn)
            else:  # its worker has not taken the lock yet, or has just let it go
                time.sleep(0.05)
        if not app_lock.acquire(timeout=1):
            holder = app_lock.holder() or "a command"
            self.log.header(f"Waiting for the app lock (held by {holder})")
            app_lock.acquire()
        app_lock.describe_holder(f"{self.name} ({self.release.description}) pid {os.getpid()}")
        faults.point("locked")
        repair_dead_releases(self.server, self.app)

    def _execute(self) -> None:
        self.sandboxed = require_sandbox(self.log)  # before any app code runs
        self._to(Status.BUILDING)
        prepared = self._prepare()
        self.log.masker = Masker(prepared.config)
        oplog.set_masker(self.log.masker)
        self.ledger.update(self.app, self.version, config=prepared.config, commit=prepared.commit)
        env = app_environment(self.layout, prepared.config, app=self.app, version=self.version,
                              commit=prepared.commit, account=self.server.account,
                              enabled=self.sandboxed)
        atomic_write(self.layout.env_file(self.app, self.version),
                     env_arguments(env) if self.sandboxed else render_env_file(env))
        self._to(Status.RELEASING)
        sandbox = sandbox_for(self.layout, self.app, self.layout.release_dir(self.app,
                                                                            self.version),
                              enabled=self.sandboxed)
        run_release_phase(self.server, self.app, self.version, prepared.procfile,
                          prepared.settings.release, prepared.config, env, sandbox, self.log,
                          self.oplog)
        self._flush()
        self.switch.go_live(prepared.procfile, prepared.settings.healthcheck)
        command = prepared.procfile.postdeploy
        if command is not None:
            self.ledger.update(self.app, self.version,
                               postdeploy_status=PostdeployStatus.RUNNING.value)
            self.log.header(f"Postdeploy starts now, in the background: {command}")
            self.log.line(f"follow it: gitdeploy releases:output -a {self.app} {self.name} "
                          "--follow")
            self.postdeploy = (command, prepared.settings, env, sandbox)
        self._succeed()
        try:
            pruned = prune(self.server, self.app, prepared.settings.keep_releases)
        except OSError as exc:
            self.log.warn(f"pruning old releases failed: {exc}")
        else:
            if pruned:
                self.oplog.info("release.pruned", versions=pruned)

    def _flush(self) -> None:
        """The release's files on disk before `current` names them: a power loss right after
        the swap must not leave `current` pointing at empty files."""
        started = time.monotonic()
        try:
            flush_filesystem(self.layout.release_dir(self.app, self.version))
        except OSError as exc:
            raise ReleaseFailure(Reason.BUILD_FAILED,
                                 f"writing the release's files to disk failed: {exc}") from None
        self.oplog.info("release.flushed", seconds=round(time.monotonic() - started, 4))

    def _to(self, status: Status) -> None:
        self.release = self.ledger.transition(self.app, self.version, status)

    def _prepare(self) -> Prepared:
        """releases/vN, built or reused (prepare.py)."""
        preparer = Preparer(self.server, self.release, self.log, self.oplog, self.sandboxed)
        try:
            return preparer.prepare()
        finally:
            self.release = preparer.release
            self.slug_commit = preparer.slug_commit
            self.slug_files = preparer.slug_files

    def _succeed(self) -> None:
        problem = move_deploy_branch(self.server, self.release)
        if problem is not None:
            self.log.warn(problem)
        seconds = time.monotonic() - self.started
        self.log.header(f"Released {self.name} ({self.release.description}) in {seconds:.1f} s")
        faults.point("verdict-written")
        self._to(Status.SUCCEEDED)
        faults.point("recorded")
        touch_log(self.layout.log(self.app, self.version))
        self.oplog.info("release.succeeded", seconds=round(seconds, 3))

    def _fail(self, reason: Reason, detail: str | None) -> None:
        if detail:
            self.log.warn(detail)
        live = self.switch.revert() if self.switch.is_live() else \
            live_message(self.server, self.app)
        discard_release_files(self.server, self.app, self.version)
        for suffix in ("build", "extract"):
            remove_tree(self.layout.tmp_dir(self.app) / f"{self.name}.{suffix}")
        remove_tree(self.layout.build_root(self.app) / "app")  # a build's files (app lock held)
        self.log.header(f"Release {self.name} failed: {reason} — {live}")
        release = self.ledger.release(self.app, self.version)
        if release is not None and not release.status.final:
            self.ledger.transition(self.app, self.version, Status.FAILED, reason)
        touch_log(self.layout.log(self.app, self.version))
        self.oplog.warning("release.failed", reason=reason.value, detail=detail)

    def _pack_slug(self, sha: str | None, files: Path | None = None) -> None:
        """After the verdict and outside the app lock: off the pusher's clock, and the next
        release need not wait for it. Until it exists, the release's directory (and its
        commit) stand in for it. It only ever writes its own file (a temporary, renamed).
        ``sha``: the commit's files; else ``files``, a build's output (read-only to the
        release's code since it was built)."""
        dest = self.layout.slug(self.app, self.version)
        try:
            if sha is not None:
                size = slug_from_commit(self.layout.repo(self.app), sha, dest)
            else:
                assert files is not None
                size = create_slug(files, dest)
            self.oplog.info("slug.packed", bytes=size)
        except (GitdeployError, OSError) as exc:
            self.oplog.warning("slug.failed", error=str(exc))

def run_worker(root: Path, app: str, version: int, lock_fd: int | None) -> int:
    """The worker's whole life, for the forked child and for `gitdeploy worker`."""
    server = Server(root)
    try:
        status = Worker(server, app, version, lock_fd).run()
    finally:
        server.close()
    return EXIT_OK if status is Status.SUCCEEDED else EXIT_FAILED

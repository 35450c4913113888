"""The release worker: one detached process per release, from build to verdict.

Order of work, each step durable before the next: wait for earlier releases of the app (by
version, so pushes go live in the order they were made) -> app lock -> build or reuse the
files -> record config -> env file -> release phase -> swap ``current`` -> processes ->
verdict in the log -> final status in the ledger -> prune old releases.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import time
from pathlib import Path

from gitdeploy import apps, faults, oplog, processes, schemadiff
from gitdeploy.configvars import postgres_url, release_environment, render_env_file
from gitdeploy.errors import EXIT_FAILED, EXIT_OK, GitdeployError
from gitdeploy.events import worker_alive
from gitdeploy.fsops import atomic_write, remove_file, remove_tree, swap_symlink
from gitdeploy.ledger import Release
from gitdeploy.locks import FileLock, wait_until_free
from gitdeploy.output import Masker
from gitdeploy.prepare import Prepared, Preparer
from gitdeploy.releaselog import ReleaseFailure, ReleaseLog
from gitdeploy.retention import prunable, rollback_target
from gitdeploy.runner import run_command
from gitdeploy.server import Server
from gitdeploy.settings import AppSettings
from gitdeploy.slug import slug_from_commit
from gitdeploy.states import PostdeployStatus, Reason, Status
from gitdeploy.stream import touch_log


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
        self.log = ReleaseLog(self.layout.log(app, version))
        release = self.ledger.release(app, version)
        if release is None:
            raise GitdeployError(f"no release {self.name} of {app}")
        self.release: Release = release
        self.started = time.monotonic()
        self.went_live = False
        self.previous_live: int | None = None
        self.postdeploy: tuple[str, AppSettings, dict[str, str]] | None = None
        self.slug_commit: str | None = None

    # --- the whole run -----------------------------------------------------------------

    def run(self) -> Status:
        oplog.start(self.layout.oplog)
        oplog.log("release.start", app=self.app, version=self.version, kind=self.release.kind)
        if self.release.status is not Status.PENDING:
            return self.release.status
        app_lock = FileLock(self.layout.app_lock(self.app))
        try:
            self._wait_for_turn(app_lock)
            self._execute()
        except ReleaseFailure as failure:
            self._fail(failure.reason, failure.detail)
        except Exception as exc:
            oplog.log("release.crash", level="error", app=self.app, version=self.version,
                      exc_info=True)
            self._fail(Reason.INTERRUPTED, f"internal error: {exc.__class__.__name__}: {exc}")
        finally:
            app_lock.release()
        if self.slug_commit is not None:  # failed releases keep theirs too, to look into
            self._pack_slug(self.slug_commit)
        if self.postdeploy is not None:
            self._postdeploy(*self.postdeploy)
        release = self.ledger.release(self.app, self.version)
        status = release.status if release is not None else Status.FAILED
        oplog.log("release.end", app=self.app, version=self.version, status=status.value,
                  seconds=round(time.monotonic() - self.started, 3),
                  peak_rss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  children_peak_rss_kb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        oplog.flush()
        return status

    def _wait_for_turn(self, app_lock: FileLock) -> None:
        """Earlier releases first, in version order; then the app lock."""
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
            wait_until_free(self.layout.release_lock(self.app, ahead.version))
        if not app_lock.acquire(timeout=1):
            holder = app_lock.holder() or "a command"
            self.log.header(f"Waiting for the app lock (held by {holder})")
            app_lock.acquire()
        app_lock.describe_holder(f"{self.name} ({self.release.description}) pid {os.getpid()}")
        faults.point("locked")
        apps.repair_dead_releases(self.server, self.app)

    def _execute(self) -> None:
        self._to(Status.BUILDING)
        prepared = self._prepare()
        self.log.masker = Masker(prepared.config)
        oplog.set_masker(self.log.masker)
        self.ledger.update(self.app, self.version, config=prepared.config, commit=prepared.commit)
        env = release_environment(prepared.config, app=self.app, version=self.version,
                                  commit=prepared.commit, base=os.environ)
        atomic_write(self.layout.env_file(self.app, self.version), render_env_file(env))
        self._to(Status.RELEASING)
        self._release_phase(prepared, env)
        self._go_live(prepared)
        command = prepared.procfile.postdeploy
        if command is not None:
            self.ledger.update(self.app, self.version,
                               postdeploy_status=PostdeployStatus.RUNNING.value)
            self.log.header(f"Postdeploy starts now, in the background: {command}")
            self.log.line(f"follow it: gitdeploy releases:output -a {self.app} {self.name} "
                          "--follow")
            self.postdeploy = (command, prepared.settings, env)
        self._succeed()
        try:
            self._prune(prepared.settings.keep_releases)
        except OSError as exc:
            self.log.warn(f"pruning old releases failed: {exc}")

    def _to(self, status: Status) -> None:
        self.release = self.ledger.transition(self.app, self.version, status)

    def _prepare(self) -> Prepared:
        """releases/vN, built or reused (prepare.py)."""
        preparer = Preparer(self.server, self.release, self.log)
        try:
            return preparer.prepare()
        finally:
            self.release = preparer.release
            self.slug_commit = preparer.slug_commit

    # --- release phase, go-live, verdict -------------------------------------------------

    def _release_phase(self, prepared: Prepared, env: dict[str, str]) -> None:
        command = prepared.procfile.release
        if command is None:
            return
        settings = prepared.settings.release
        url = postgres_url(prepared.config, settings.database_url_var)
        database = None
        if url is not None:
            from gitdeploy.dbguard import DatabaseGuard, DatabaseProblem

            database = DatabaseGuard(url, settings, f"gitdeploy {self.app} {self.name}",
                                     self.log.header)
            try:
                database.begin()
            except DatabaseProblem as problem:
                raise ReleaseFailure(problem.reason, problem.detail) from None
            env = {**env, "PGOPTIONS": database.pgoptions(env.get("PGOPTIONS"))}
        self.log.header(f"Running release command: {command}")
        try:
            result = run_command(
                command, cwd=self.layout.release_dir(self.app, self.version), env=env,
                timeout=settings.timeout, kill_grace=settings.kill_grace, on_line=self.log.line,
            )
        finally:
            if database is not None:
                changes, unreadable = database.end()
                if unreadable:
                    self.log.warn(unreadable)
                if changes is not None:
                    self._record_schema_changes(changes)
        oplog.log("release.phase", app=self.app, version=self.version,
                  outcome=result.describe(), seconds=round(result.seconds, 3))
        if result.timed_out:
            raise ReleaseFailure(
                Reason.RELEASE_TIMED_OUT,
                f"release command timed out after {settings.timeout:g} s; "
                "it and every process it started were stopped",
            )
        if not result.ok:
            raise ReleaseFailure(Reason.RELEASE_FAILED, f"release command {result.describe()}")

    def _record_schema_changes(self, changes: list[schemadiff.Change]) -> None:
        self.ledger.update(self.app, self.version,
                           schema_changes=[change.as_dict() for change in changes])
        if changes:
            self.log.header(f"Schema changes: {len(changes)}")
            for change in changes:
                self.log.line(f"{change.kind} {change.object}: {change.detail}")
        breaking = [change for change in changes if change.breaking]
        if breaking:
            live = apps.current_version(self.server, self.app)
            serving = f"v{live}" if live is not None else "the code serving traffic"
            self.log.warn(f"{len(breaking)} of them may break {serving}, which serves traffic "
                          "until this release goes live:")
            for change in breaking:
                self.log.warn(f"  {change.kind} {change.object}: {change.detail}")
            self.log.warn(schemadiff.SAFE_PATTERN)

    def _go_live(self, prepared: Prepared) -> None:
        """Swap current.env, then current (each an atomic rename; recovery re-syncs the pair),
        then run the processes; if a web process does not answer, go back."""
        self.previous_live = apps.current_version(self.server, self.app)
        self._point_current_at(self.version)
        faults.point("went-live")
        self.went_live = True
        systemd = processes.manager()
        if systemd is None:
            if prepared.procfile.processes:
                self.log.warn(processes.NO_MANAGER)
            return
        failure: tuple[str | None, str] | None
        try:
            running = processes.apply(self.server, systemd, self.app, self.version)
        except GitdeployError as exc:
            failure = (None, f"starting the processes failed: {exc}")
        else:
            if running:
                self.log.header(f"Restarted {', '.join(p.name for p in running)}")
            checked = processes.check_web(systemd, self.app, running,
                                          prepared.settings.healthcheck)
            failure = (checked[0].name, checked[1]) if checked else None
        if failure is None:
            return
        process, why = failure
        self.log.warn(why)
        if process is not None:
            self.log.warn(f"last lines of {process}:")
            for line in processes.tail(self.server, systemd, self.app, process, 15):
                self.log.line(line)
        raise ReleaseFailure(Reason.WEB_CHECK_FAILED, f"the release phase of {self.name} had "
                             "already run: what it changed (migrations, data) stays applied")

    def _point_current_at(self, version: int) -> None:
        swap_symlink(self.layout.current_env(self.app), f"releases/v{version}.env")
        faults.point("between-swaps")
        swap_symlink(self.layout.current(self.app), f"releases/v{version}")

    def _revert(self) -> None:
        """A failing release that already went live hands `current` back to the one before
        (or to none) and that release's processes are run again."""
        previous = self.previous_live
        if previous is None:
            remove_file(self.layout.current(self.app))
            remove_file(self.layout.current_env(self.app))
        else:
            self._point_current_at(previous)
        systemd = processes.manager()
        if systemd is None:
            return
        try:
            if previous is None:
                processes.stop_all(self.server, systemd, self.app)
                self.log.header("Stopped the app's processes: no earlier release to go back to")
            else:
                processes.apply(self.server, systemd, self.app, previous)
                self.log.header(f"Went back to v{previous}: its processes were restarted")
        except GitdeployError as exc:
            self.log.warn(f"going back to {f'v{previous}' if previous else 'nothing'}: "
                          f"the processes could not be restarted: {exc}")

    def _succeed(self) -> None:
        seconds = time.monotonic() - self.started
        self.log.header(f"Released {self.name} ({self.release.description}) in {seconds:.1f} s")
        faults.point("verdict-written")
        self._to(Status.SUCCEEDED)
        faults.point("recorded")
        touch_log(self.layout.log(self.app, self.version))
        oplog.log("release.succeeded", app=self.app, version=self.version,
                  seconds=round(seconds, 3))

    def _fail(self, reason: Reason, detail: str | None) -> None:
        if detail:
            self.log.warn(detail)
        if self.went_live and apps.current_version(self.server, self.app) == self.version:
            self._revert()
        apps.discard_release_files(self.server, self.app, self.version)
        for suffix in ("build", "extract"):
            remove_tree(self.layout.tmp_dir(self.app) / f"{self.name}.{suffix}")
        self.log.header(f"Release {self.name} failed: {reason} — "
                        f"{apps.live_message(self.server, self.app)}")
        release = self.ledger.release(self.app, self.version)
        if release is not None and not release.status.final:
            self.ledger.transition(self.app, self.version, Status.FAILED, reason)
        touch_log(self.layout.log(self.app, self.version))
        oplog.log("release.failed", level="warning", app=self.app, version=self.version,
                  reason=reason.value, detail=detail)

    def _pack_slug(self, sha: str) -> None:
        """After the verdict and outside the app lock: off the pusher's clock, and the next
        release need not wait for it. Until it exists, the release's directory (and its
        commit) stand in for it. It only ever writes its own file (a temporary, renamed)."""
        try:
            size = slug_from_commit(self.layout.repo(self.app), sha,
                                    self.layout.slug(self.app, self.version))
            oplog.log("slug.packed", app=self.app, version=self.version, bytes=size)
        except (GitdeployError, OSError) as exc:
            oplog.log("slug.failed", level="warning", app=self.app, version=self.version,
                      error=str(exc))

    def _postdeploy(self, command: str, settings: AppSettings, env: dict[str, str]) -> None:
        """Long work after the release is live (a reindex, a backfill), detached from the
        push. One at a time per app: a newer one waits for, or cancels, a running one."""
        stop: list[int] = []
        signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))
        lock = FileLock(self.layout.postdeploy_lock(self.app))
        if not lock.acquire(timeout=0):
            holder = lock.holder()
            if settings.postdeploy.on_new_release == "cancel":
                self.log.header(f"Postdeploy: cancelling the postdeploy of {holder}")
                pid = holder.rpartition("pid ")[2]
                if pid.isdigit():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(int(pid), signal.SIGTERM)
            else:
                self.log.header(f"Postdeploy: waiting for the postdeploy of {holder} to end")
            lock.acquire()
        lock.describe_holder(f"{self.name} pid {os.getpid()}")
        try:
            if stop:
                status, outcome = PostdeployStatus.CANCELLED, "was cancelled before it started"
            else:
                self.log.header(f"Running postdeploy command: {command}")
                result = run_command(
                    command, cwd=self.layout.release_dir(self.app, self.version), env=env,
                    timeout=settings.postdeploy.timeout, kill_grace=settings.release.kill_grace,
                    on_line=self.log.line, cancelled=lambda: bool(stop))
                status = (PostdeployStatus.CANCELLED if result.cancelled
                          else PostdeployStatus.TIMED_OUT if result.timed_out
                          else PostdeployStatus.SUCCEEDED if result.ok
                          else PostdeployStatus.FAILED)
                outcome = result.describe()
            if status is PostdeployStatus.SUCCEEDED:
                self.log.header(f"Postdeploy of {self.name} succeeded")
            else:
                self.log.header(f"Postdeploy of {self.name} {status}: the postdeploy command "
                                f"{outcome}; {self.name} stays live")
            self.ledger.update(self.app, self.version, postdeploy_status=status.value)
            touch_log(self.layout.log(self.app, self.version))
            oplog.log("postdeploy.end", app=self.app, version=self.version, status=status.value)
        finally:
            lock.release()

    def _prune(self, keep: int) -> None:
        layout = self.layout
        releases = self.ledger.releases(self.app)
        current = apps.current_version(self.server, self.app)
        target = rollback_target(
            [r.version for r in releases if r.status is Status.SUCCEEDED], current)
        with_files = [r.version for r in releases
                      if os.path.lexists(layout.release_dir(self.app, r.version))
                      or layout.slug(self.app, r.version).exists()]
        busy = {r.version for r in releases
                if r.postdeploy_status == PostdeployStatus.RUNNING.value}  # still using its dir
        doomed = [v for v in prunable(with_files, keep, current, target) if v not in busy]
        if not doomed:
            return
        kept_dirs = {os.path.realpath(layout.release_dir(self.app, v))
                     for v in with_files if v not in doomed}
        for version in doomed:
            path = layout.release_dir(self.app, version)
            if path.is_symlink() or os.path.realpath(path) not in kept_dirs:
                remove_tree(path)
            for gone in (layout.slug(self.app, version), layout.manifest(self.app, version),
                         layout.env_file(self.app, version)):
                remove_file(gone)
        oplog.log("release.pruned", app=self.app, versions=doomed)


def run_worker(root: Path, app: str, version: int, lock_fd: int | None) -> int:
    """The worker's whole life, for the forked child and for `gitdeploy worker`."""
    server = Server(root)
    try:
        status = Worker(server, app, version, lock_fd).run()
    finally:
        server.close()
    return EXIT_OK if status is Status.SUCCEEDED else EXIT_FAILED

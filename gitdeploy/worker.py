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
from dataclasses import dataclass
from pathlib import Path

from gitdeploy import apps, faults, gitcli, materialize, oplog, processes, schemadiff
from gitdeploy.configvars import (
    ConfigChange,
    postgres_url,
    release_environment,
    render_env_file,
)
from gitdeploy.errors import EXIT_FAILED, EXIT_OK, GitdeployError
from gitdeploy.events import worker_alive
from gitdeploy.fsops import atomic_write, read_regular_file, remove_file, remove_tree, swap_symlink
from gitdeploy.gitcli import archive_into
from gitdeploy.ledger import Release
from gitdeploy.locks import FileLock, wait_until_free
from gitdeploy.output import Masker, header, indent, warning
from gitdeploy.procfile import Procfile, ProcfileError, parse_procfile
from gitdeploy.retention import prunable, rollback_target
from gitdeploy.runner import run_command
from gitdeploy.server import Server
from gitdeploy.settings import FILENAME, AppSettings, SettingsError, parse_settings
from gitdeploy.slug import create_slug, extract_slug, share_slug, slug_from_commit
from gitdeploy.states import PostdeployStatus, Reason, Status
from gitdeploy.stream import touch_log


def human_size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{max(1, round(size / 1e3))} kB"


class ReleaseFailure(Exception):
    def __init__(self, reason: Reason, detail: str | None = None) -> None:
        super().__init__(detail or reason.value)
        self.reason = reason
        self.detail = detail


class ReleaseLog:
    """logs/vN.log, written line by line (unbuffered) with secrets masked.

    A full disk must not turn a failure into a crash: lines that cannot be written are
    dropped and counted, and the release goes on to its verdict.
    """

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.masker = Masker()
        self.dropped = 0

    def write(self, text: str) -> None:
        data = "".join(self.masker.mask(line) + "\n" for line in text.split("\n")).encode()
        try:
            os.write(self.fd, data)
        except OSError:
            self.dropped += 1

    def header(self, text: str) -> None:
        self.write(header(text))

    def line(self, text: str) -> None:
        self.write(indent(text))

    def warn(self, text: str) -> None:
        self.write(warning(text))


@dataclass
class Prepared:
    procfile: Procfile
    settings: AppSettings
    config: dict[str, str]
    commit: str | None


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

    # --- preparing the release's files -------------------------------------------------

    def _prepare(self) -> Prepared:
        request = self.release.request
        kind = self.release.kind
        if kind == "deploy":
            return self._prepare_from_commit(str(request["commit"]))
        current = apps.current_version(self.server, self.app)
        if kind == "config":
            change = ConfigChange(set=dict(request.get("set", {})),
                                  unset=tuple(request.get("unset", ())))
            config = change.apply(apps.current_config(self.server, self.app))
            if current is None:  # the releases ahead of this one all failed
                self.ledger.set_initial_config(self.app, config)
                raise ReleaseFailure(Reason.SOURCE_UNAVAILABLE, "no release is live: the change "
                                     "was stored for the first release")
            return self._prepare_from_release(self.app, current, config)
        if kind == "rollback":
            target = self.ledger.release(self.app, int(request["version"]))
            if target is None or target.status is not Status.SUCCEEDED:
                raise ReleaseFailure(Reason.SOURCE_UNAVAILABLE,
                                     f"v{request['version']} is not a succeeded release")
            return self._prepare_from_release(self.app, target.version, dict(target.config or {}))
        if kind == "promote":
            config = apps.current_config(self.server, self.app)
            return self._prepare_from_release(str(request["source_app"]),
                                              int(request["source_version"]), config)
        raise ReleaseFailure(Reason.INTERRUPTED, f"unknown release kind {kind!r}")

    def _prepare_from_commit(self, sha: str) -> Prepared:
        self.log.header(f"Building {self.name} ({sha[:7]})")
        repo = self.layout.repo(self.app)
        build_dir = self.layout.tmp_dir(self.app) / f"{self.name}.build"
        try:
            planned = parse_settings(gitcli.show_file(repo, sha, FILENAME))
        except SettingsError as exc:
            raise ReleaseFailure(Reason.INVALID_APP_CONFIG, exc.message) from None
        self._materialize(repo, sha, build_dir, incremental=planned.build is None)
        procfile, settings = self._read_app_files(build_dir)
        self._record_origin(settings.build, self.app)
        if (build_dir / ".gitmodules").exists():
            self.log.warn("git submodules are not deployed: their files are not in the slug")
        config = apps.current_config(self.server, self.app)
        if settings.build:
            self.log.header(f"Running build command: {settings.build}")
            self.log.masker = Masker(config)
            env = release_environment(config, app=self.app, version=self.version, commit=sha,
                                      base=os.environ)
            result = run_command(settings.build, cwd=build_dir, env=env,
                                 timeout=settings.release.timeout,
                                 kill_grace=settings.release.kill_grace, on_line=self.log.line)
            if not result.ok:
                raise ReleaseFailure(Reason.BUILD_FAILED, f"build command {result.describe()}")
            try:  # the build's output belongs in the slug: pack it before anything runs
                size = create_slug(build_dir, self.layout.slug(self.app, self.version))
            except (GitdeployError, OSError) as exc:
                raise ReleaseFailure(Reason.BUILD_FAILED,
                                     f"creating the slug failed: {exc}") from None
            self.log.header(f"Slug compressed: {human_size(size)}")
        else:
            self.slug_commit = sha  # the slug is the commit's files: packed after go-live
        try:
            os.rename(build_dir, self.layout.release_dir(self.app, self.version))
        except OSError as exc:
            raise ReleaseFailure(Reason.BUILD_FAILED, str(exc)) from None
        return Prepared(procfile, settings, config, sha)

    def _materialize(self, repo: Path, sha: str, build_dir: Path, incremental: bool) -> None:
        """The commit's files in build_dir: linked from the live release where they did not
        change (no build command, a live release from this repo), else extracted whole."""
        base = self._incremental_base() if incremental else None
        if base is not None:
            directory, commit, version = base
            remove_tree(build_dir)
            build_dir.mkdir(mode=0o755)
            try:
                counts = materialize.link_unchanged(repo, commit, sha, directory, build_dir)
            except (GitdeployError, OSError) as exc:
                oplog.log("materialize.fallback", app=self.app, version=self.version,
                          error=str(exc))
                counts = None
            if counts is not None:
                self.log.header(f"Reused {counts[0]:,} unchanged files of v{version}, "
                                f"extracted {counts[1]:,}")
                return
        remove_tree(build_dir)
        build_dir.mkdir(mode=0o755)
        try:
            archive_into(repo, sha, build_dir)
        except (GitdeployError, OSError) as exc:
            raise ReleaseFailure(Reason.BUILD_FAILED, str(exc)) from None

    def _incremental_base(self) -> tuple[Path, str, int] | None:
        """The live release's directory and commit, if it was built from git alone."""
        live = apps.current_version(self.server, self.app)
        release = self.ledger.release(self.app, live) if live is not None else None
        directory = apps.release_dir(self.server, self.app, live) if live is not None else None
        if release is None or release.commit is None or directory is None or live is None:
            return None
        if release.request.get("build") is not None or release.request.get("repo") != self.app:
            return None
        return directory, release.commit, live

    def _prepare_from_release(self, source_app: str, source_version: int,
                              config: dict[str, str]) -> Prepared:
        """A new release from an existing one's slug: no git, no build.

        Within one app the new release shares the source's directory (a symlink: constant
        time whatever the app's size); across apps, or once the directory was pruned, the
        slug is extracted.
        """
        source = self.ledger.release(source_app, source_version)
        origin = f"v{source_version}"
        if source_app != self.app:
            origin = f"{source_app} {origin}"
        described = f" ({source.description})" if source is not None else ""
        self.log.header(f"Preparing {self.name} from {origin}{described}")
        dest = self.layout.release_dir(self.app, self.version)
        real = apps.release_dir(self.server, source_app, source_version)
        source_slug = self.layout.slug(source_app, source_version)
        try:
            tmp = self.layout.tmp_dir(self.app) / f"{self.name}.extract"
            from_git = (source is not None and source.commit is not None
                        and "repo" in source.request and source.request.get("build") is None)
            if real is not None and source_app == self.app:
                os.symlink(os.path.relpath(real, dest.parent), dest)
            elif source_slug.exists() or from_git:
                remove_tree(tmp)
                tmp.mkdir(mode=0o755)
                if source_slug.exists():
                    extract_slug(source_slug, tmp)
                else:  # its slug is not packed yet (or was lost): the commit is the same
                    assert source is not None and source.commit is not None
                    archive_into(self.layout.repo(source.request["repo"]), source.commit, tmp)
                os.rename(tmp, dest)
            else:
                raise ReleaseFailure(Reason.SOURCE_UNAVAILABLE,
                                     f"the files and slug of {source_app} v{source_version} "
                                     "were pruned")
            if source_slug.exists():
                share_slug(source_slug, self.layout.slug(self.app, self.version))
        except (GitdeployError, OSError) as exc:
            raise ReleaseFailure(Reason.BUILD_FAILED, str(exc)) from None
        procfile, settings = self._read_app_files(dest)
        commit = source.commit if source is not None else None
        made_from = source.request if source is not None else {}
        self._record_origin(made_from.get("build"), made_from.get("repo", source_app))
        return Prepared(procfile, settings, config, commit)

    def _record_origin(self, build: str | None, repo_app: str) -> None:
        """Where the release's files come from: whether a build command made them, and which
        app's repository holds its commit (a promoted release's is the source app's)."""
        self.release.request = {**self.release.request, "build": build, "repo": repo_app}
        self.ledger.update(self.app, self.version, request=self.release.request)

    def _read_app_files(self, directory: Path) -> tuple[Procfile, AppSettings]:
        try:
            procfile_data = read_regular_file(directory, "Procfile")
            settings_data = read_regular_file(directory, FILENAME)
            procfile = parse_procfile(procfile_data) if procfile_data is not None else Procfile()
            settings = parse_settings(settings_data)
        except (ValueError, ProcfileError, SettingsError) as exc:
            raise ReleaseFailure(Reason.INVALID_APP_CONFIG, str(exc)) from None
        for text in procfile.warnings:
            self.log.warn(text)
        return procfile, settings

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

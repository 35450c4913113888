"""A release's files, before its release phase: built from a commit, or reused from another
release (config change, rollback, promotion) without git or a build."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from gitdeploy.appconfig.buildenv import network_settings
from gitdeploy.appconfig.buildpack import DETECT_FILES, READ_FILES, BuildPlan, detect
from gitdeploy.appconfig.configvars import ConfigChange
from gitdeploy.appconfig.masking import Masker
from gitdeploy.appconfig.procfile import Procfile, ProcfileError, parse_procfile
from gitdeploy.appconfig.settings import FILENAME, AppSettings, SettingsError, parse_settings
from gitdeploy.errors import GitdeployError, UsageError
from gitdeploy.git.export import archive_into
from gitdeploy.git.repo import GitRepo
from gitdeploy.model.release import Release
from gitdeploy.model.states import Reason, Status
from gitdeploy.release import build, materialize
from gitdeploy.release.failure import ReleaseFailure
from gitdeploy.release.sandboxing import app_environment, sandbox_for
from gitdeploy.release.slug import extract_slug, share_slug
from gitdeploy.store.fsops import read_regular_file, remove_tree
from gitdeploy.store.live import current_config, current_version, release_dir
from gitdeploy.store.oplog import Log
from gitdeploy.store.releaselog import ReleaseLog
from gitdeploy.store.server import Server


@dataclass
class Prepared:
    procfile: Procfile
    settings: AppSettings
    config: dict[str, str]
    commit: str | None


class Preparer:
    """Makes releases/vN for one release. ``slug_commit`` is set when the slug is the
    commit's files alone, ``slug_files`` when it is a build's output: packed after the
    verdict (even if the release then fails), off the pusher's clock."""

    def __init__(self, server: Server, release: Release, log: ReleaseLog, oplog: Log,
                 sandboxed: bool) -> None:
        self.sandboxed = sandboxed
        self.server = server
        self.layout = server.layout
        self.ledger = server.ledger
        self.release = release
        self.app = release.app
        self.version = release.version
        self.name = f"v{release.version}"
        self.log = log
        self.oplog = oplog
        self.slug_commit: str | None = None
        self.slug_files: Path | None = None

    def prepare(self) -> Prepared:
        request = self.release.request
        kind = self.release.kind
        if kind == "deploy":
            return self._from_commit(str(request["commit"]))
        current = current_version(self.server, self.app)
        if kind == "config":
            change = ConfigChange(set=dict(request.get("set", {})),
                                  unset=tuple(request.get("unset", ())))
            if current is None:  # the releases ahead of this one all failed
                with self.ledger.write():
                    config = change.apply(current_config(self.server, self.app))
                    self.ledger.set_initial_config(self.app, config)
                raise ReleaseFailure(Reason.SOURCE_UNAVAILABLE, "no release is live: the change "
                                     "was stored for the first release")
            config = change.apply(current_config(self.server, self.app))
            return self._from_release(self.app, current, config)
        if kind == "rollback":
            target = self.ledger.release(self.app, int(request["version"]))
            if target is None or target.status is not Status.SUCCEEDED:
                raise ReleaseFailure(Reason.SOURCE_UNAVAILABLE,
                                     f"v{request['version']} is not a succeeded release")
            return self._from_release(self.app, target.version, dict(target.config or {}))
        if kind == "promote":
            config = current_config(self.server, self.app)
            return self._from_release(str(request["source_app"]),
                                              int(request["source_version"]), config)
        raise ReleaseFailure(Reason.INTERRUPTED, f"unknown release kind {kind!r}")

    def _from_commit(self, sha: str) -> Prepared:
        self.log.header(f"Building {self.name} ({sha[:7]})")
        repo = self.layout.repo(self.app)
        config = current_config(self.server, self.app)
        plan = self._plan(GitRepo(repo), sha, config)
        final = self.layout.release_dir(self.app, self.version)
        root = self.layout.build_root(self.app)
        if not plan.builds:
            build_dir = self.layout.tmp_dir(self.app) / f"{self.name}.build"
        elif self.sandboxed:  # built at /app, the path it is run at
            build.prepare_root(root)
            remove_tree(root / "app")  # a dead build's
            build_dir = root / "app"
        else:  # built where it will be run: releases/vN
            build.prepare_root(root)
            build_dir = final
        self._materialize(repo, sha, build_dir, incremental=not plan.builds)
        procfile, settings = self._read_app_files(build_dir)
        self._record_origin(plan.summary() if plan.builds else None, self.app)
        if (build_dir / ".gitmodules").exists():
            self.log.warn("git submodules are not deployed: their files are not in the slug")
        if plan.builds:
            self._build(plan, settings, config, sha, root, build_dir)
            self.slug_files = final
        else:
            for line in plan.describe():
                self.log.header(line)
            self.slug_commit = sha  # the slug is the commit's files: packed after go-live
        if build_dir != final:
            try:
                os.rename(build_dir, final)
            except OSError as exc:
                raise ReleaseFailure(Reason.BUILD_FAILED, str(exc)) from None
        return Prepared(procfile, settings, config, sha)

    def _plan(self, repo: GitRepo, sha: str, config: dict[str, str]) -> BuildPlan:
        """The build, from the commit's top-level files (before any is extracted: a build
        must not share files with the live release)."""
        try:
            present = repo.present(sha, list(DETECT_FILES))
            files = repo.read_files(sha, [FILENAME, *(n for n in READ_FILES if n in present)])
            return detect(present, files, parse_settings(files[FILENAME]), config)
        except UsageError as exc:  # gitdeploy.yml, package.json, .python-version, ...
            raise ReleaseFailure(Reason.INVALID_APP_CONFIG, exc.message) from None

    def _build(self, plan: BuildPlan, settings: AppSettings, config: dict[str, str],
               sha: str, root: Path, build_dir: Path) -> None:
        network = network_settings(os.environ, self.ledger.build_env())
        self.log.masker = Masker({**config, **network})
        try:
            where = build.place(root, build_dir, sandboxed=self.sandboxed)
        except GitdeployError as exc:
            raise ReleaseFailure(Reason.BUILD_FAILED, exc.message) from None
        env = app_environment(self.layout, config, app=self.app, version=self.version,
                              commit=sha, account=self.server.account, enabled=self.sandboxed)
        env.update(network)
        env.update(build.tool_environment(where))
        box = sandbox_for(self.layout, self.app, build_dir, enabled=self.sandboxed,
                          writable=True, build_root=root, tools=build.tools(where, network))
        started = time.monotonic()
        spent = build.run_build(plan, where, box, env, settings.release, self.log)
        seconds = time.monotonic() - started
        self.log.header(f"Built in {seconds:.1f} s")
        self.oplog.info("build.end", seconds=round(seconds, 3), steps=spent)

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
                self.oplog.warning("materialize.fallback", error=str(exc))
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
        live = current_version(self.server, self.app)
        release = self.ledger.release(self.app, live) if live is not None else None
        directory = release_dir(self.server, self.app, live) if live is not None else None
        if release is None or release.commit is None or directory is None or live is None:
            return None
        if release.request.get("build") is not None or release.request.get("repo") != self.app:
            return None
        return directory, release.commit, live

    def _from_release(self, source_app: str, source_version: int,
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
        real = release_dir(self.server, source_app, source_version)
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

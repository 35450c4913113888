"""Deploys: from a push (the hook) or from any commit already in the repository."""

from __future__ import annotations

from dataclasses import dataclass

from gitdeploy.appconfig.procfile import parse_procfile
from gitdeploy.appconfig.settings import FILENAME, AppSettings, parse_settings
from gitdeploy.errors import UsageError
from gitdeploy.events import launch
from gitdeploy.git.repo import ZERO_SHA, GitRepo
from gitdeploy.model.release import Release
from gitdeploy.store.live import current_version, release_dir
from gitdeploy.store.server import Server


def check_app_files(repo: GitRepo, sha: str) -> AppSettings:
    """Validate the commit's Procfile and gitdeploy.yml before anything is built."""
    files = repo.read_files(sha, ["Procfile", FILENAME])
    if files["Procfile"] is not None:
        parse_procfile(files["Procfile"])
    return parse_settings(files[FILENAME])


def deploy_branch(server: Server, app: str, repo: GitRepo,
                  created: frozenset[str] = frozenset()) -> str:
    """The branch whose pushes deploy, decided by the server: ``branch:`` in the live
    release's gitdeploy.yml, else ``main``, else ``master`` when there is no ``main``
    (``created``: branches this push creates, counted as existing). Never the file on the
    branch being pushed, or any branch could make itself the deploy branch."""
    version = current_version(server, app)
    files = release_dir(server, app, version) if version is not None else None
    if files is not None:
        try:
            data = (files / FILENAME).read_bytes() if (files / FILENAME).is_file() else None
            branch = parse_settings(data).branch
        except (OSError, UsageError):  # it was valid when it went live; edited since
            branch = None
        if branch is not None:
            return branch
    if "main" not in created and not repo.has_branch("main") and (
            "master" in created or repo.has_branch("master")):
        return "master"
    return "main"


def request_deploy(server: Server, app: str, sha: str, repo: GitRepo | None = None,
                   ref: str | None = None) -> Release:
    """Validate the commit, then start its release. ``ref``: the deploy branch of a push,
    which the worker moves to the commit when the release succeeds."""
    settings = check_app_files(repo or GitRepo(server.layout.repo(app)), sha)
    request = {"commit": sha, "build": settings.build is not None}
    return launch.start(server, app, kind="deploy", description=f"Deploy {sha[:7]}",
                        commit=sha, request={**request, "ref": ref} if ref else request)


def redeploy(server: Server, app: str, ref: str | None) -> Release:
    """`deploy -a APP [REF]`: REF defaults to the deploy branch's head."""
    server.app(app)
    repo = GitRepo(server.layout.repo(app))
    if ref is None:
        branch = deploy_branch(server, app, repo)
        if not repo.has_branch(branch):
            if server.ledger.releases(app, limit=1):
                raise UsageError(f"the deploy branch {branch!r} does not exist")
            raise UsageError(f"{app} has no commits yet: push to it first")
        sha = repo.resolve(f"refs/heads/{branch}")
    else:
        sha = repo.resolve(ref)
    return request_deploy(server, app, sha, repo)


@dataclass(frozen=True)
class RefUpdate:
    old: str
    new: str
    ref: str

    @property
    def deleted(self) -> bool:
        return self.new == ZERO_SHA

    @property
    def branch(self) -> str | None:
        prefix = "refs/heads/"
        return self.ref[len(prefix):] if self.ref.startswith(prefix) else None


def parse_ref_updates(text: str) -> list[RefUpdate]:
    """post-receive's stdin: one ``OLD NEW REF`` line per updated ref."""
    updates = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3:
            updates.append(RefUpdate(*parts))
    return updates


def classify(update: RefUpdate, deploy_branch: str) -> str | None:
    """None if this update deploys, else the one line that acknowledges it."""
    if update.branch is None:
        kind = "tag" if update.ref.startswith("refs/tags/") else "ref"
        name = update.ref.removeprefix("refs/tags/")
        action = "deleted" if update.deleted else "received"
        return f"{kind} {name} {action}; only pushes to {deploy_branch} deploy"
    if update.deleted:
        return f"branch {update.branch} deleted; nothing to deploy"
    if update.branch != deploy_branch:
        return f"branch {update.branch} received; only pushes to {deploy_branch} deploy"
    return None

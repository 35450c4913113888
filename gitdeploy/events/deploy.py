"""Deploys: from a push (the hook) or from any commit already in the repository."""

from __future__ import annotations

from dataclasses import dataclass

from gitdeploy.appconfig.procfile import parse_procfile
from gitdeploy.appconfig.settings import FILENAME, AppSettings, parse_settings
from gitdeploy.errors import UsageError
from gitdeploy.events import launch
from gitdeploy.git.repo import ZERO_SHA, GitRepo
from gitdeploy.model.release import Release
from gitdeploy.store.live import current_version
from gitdeploy.store.server import Server


def check_app_files(repo: GitRepo, sha: str) -> AppSettings:
    """Validate the commit's Procfile and gitdeploy.yml before anything is built."""
    files = repo.read_files(sha, ["Procfile", FILENAME])
    if files["Procfile"] is not None:
        parse_procfile(files["Procfile"])
    return parse_settings(files[FILENAME])


def deploy_branch(server: Server, app: str, repo: GitRepo) -> str:
    """The branch whose pushes deploy, decided on the server: the live release's
    ``branch:`` setting, else the default branch. A pushed commit's own gitdeploy.yml never
    decides it (a branch could otherwise make itself the deploy branch); once deployed, its
    setting governs the pushes after it."""
    version = current_version(server, app)
    release = server.ledger.release(app, version) if version is not None else None
    if release is not None and release.commit is not None:
        try:
            live = parse_settings(repo.read_files(release.commit, [FILENAME])[FILENAME])
        except UsageError:  # it deployed, so it parsed then: a gitdeploy.yml of an older rule
            live = AppSettings()
        if live.branch:
            return live.branch
    return repo.default_branch()


def request_deploy(server: Server, app: str, sha: str, repo: GitRepo | None = None) -> Release:
    """Validate the commit, then start its release."""
    settings = check_app_files(repo or GitRepo(server.layout.repo(app)), sha)
    return launch.start(server, app, kind="deploy", description=f"Deploy {sha[:7]}",
                        commit=sha, request={"commit": sha, "build": settings.build is not None})


def redeploy(server: Server, app: str, ref: str | None) -> Release:
    """`deploy -a APP [REF]`: REF defaults to the deploy branch's head."""
    server.app(app)
    repo = GitRepo(server.layout.repo(app))
    if ref is None:
        branch = deploy_branch(server, app, repo)
        if not repo.has_branch(branch):
            if current_version(server, app) is None:
                raise UsageError(f"{app} has no commits yet: push to it first")
            raise UsageError(f"the deploy branch {branch!r} does not exist")
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

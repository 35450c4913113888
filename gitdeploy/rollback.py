"""Rollback and promotion: new releases from an existing release's slug."""

from __future__ import annotations

from gitdeploy import apps, retention
from gitdeploy.ledger import Release
from gitdeploy.server import Server
from gitdeploy.states import Status


def has_files(server: Server, app: str, version: int) -> bool:
    layout = server.layout
    return apps.release_dir(server, app, version) is not None or layout.slug(app, version).exists()


def default_target(server: Server, app: str) -> int | None:
    releases = server.ledger.releases(app)
    return retention.rollback_target(
        [r.version for r in releases if r.status is Status.SUCCEEDED],
        apps.current_version(server, app),
    )


def rollback_eligibility(server: Server, app: str, release: Release) -> tuple[bool, str]:
    if release.status is not Status.SUCCEEDED:
        return False, f"it {'failed' if release.status is Status.FAILED else 'is not finished'}"
    if release.version == apps.current_version(server, app):
        return False, "it is the live release"
    if not has_files(server, app, release.version):
        return False, "its slug was pruned"
    return True, "its slug is kept"


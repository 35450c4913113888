"""Rollback and promotion: new releases from an existing release's slug and config."""

from __future__ import annotations

from gitdeploy.errors import UsageError
from gitdeploy.events import launch
from gitdeploy.model import retention
from gitdeploy.model.release import Release
from gitdeploy.model.states import Status
from gitdeploy.store.live import current_version, release_dir
from gitdeploy.store.server import Server


def has_files(server: Server, app: str, version: int) -> bool:
    layout = server.layout
    return release_dir(server, app, version) is not None or layout.slug(app, version).exists()


def default_target(server: Server, app: str) -> int | None:
    releases = server.ledger.releases(app)
    return retention.rollback_target(
        [r.version for r in releases if r.status is Status.SUCCEEDED],
        current_version(server, app),
    )


def rollback_eligibility(server: Server, app: str, release: Release) -> tuple[bool, str]:
    if release.status is not Status.SUCCEEDED:
        return False, f"it {'failed' if release.status is Status.FAILED else 'is not finished'}"
    if release.version == current_version(server, app):
        return False, "it is the live release"
    if not has_files(server, app, release.version):
        return False, "its slug was pruned"
    return True, "its slug is kept"



def request_rollback(server: Server, app: str, version: int | None) -> tuple[Release, int | None]:
    """Start `Rollback to vN`; returns it and the release live before (to undo with)."""
    current = current_version(server, app)
    target = version if version is not None else default_target(server, app)
    if target is None:
        raise UsageError(f"{app} has no earlier succeeded release to roll back to")
    release = server.ledger.release(app, target)
    if release is None:
        raise UsageError(f"{app} has no release v{target}")
    eligible, why = rollback_eligibility(server, app, release)
    if not eligible and release.version != current:
        raise UsageError(f"cannot roll back to v{target}: {why}")
    started = launch.start(server, app, kind="rollback", description=f"Rollback to v{target}",
                           commit=release.commit, request={"version": target})
    return started, current


def request_promote(server: Server, source: str, target: str) -> Release:
    """Start `Promote SRC vN` on ``target`` from the source app's live slug."""
    server.app(source)
    server.app(target)
    if source == target:
        raise UsageError("promote needs two different apps")
    version = current_version(server, source)
    if version is None:
        raise UsageError(f"{source} has no live release to promote")
    release = server.ledger.release(source, version)
    return launch.start(server, target, kind="promote", description=f"Promote {source} v{version}",
                        commit=release.commit if release else None,
                        request={"source_app": source, "source_version": version})

"""Pruning: old releases' files go, keeping the newest ``keep`` succeeded ones, the live one,
the rollback target and those in use (which releases to drop is the model's retention rule;
this removes them)."""

from __future__ import annotations

import os

from gitdeploy.model.retention import prunable, rollback_target
from gitdeploy.model.states import PostdeployStatus, Status
from gitdeploy.store.fsops import remove_file, remove_tree
from gitdeploy.store.live import current_version
from gitdeploy.store.server import Server


def prune(server: Server, app: str, keep: int) -> list[int]:
    """Remove the files of releases past retention; the versions removed."""
    layout = server.layout
    releases = server.ledger.releases(app)
    current = current_version(server, app)
    succeeded = [r.version for r in releases if r.status is Status.SUCCEEDED]
    target = rollback_target(succeeded, current)
    with_files = [r.version for r in releases
                  if os.path.lexists(layout.release_dir(app, r.version))
                  or layout.slug(app, r.version).exists()]
    busy = {r.version for r in releases
            if r.postdeploy_status == PostdeployStatus.RUNNING.value}  # still using its dir
    pinned = server.ledger.pinned(app)  # a queued rollback's target, a promotion's source
    doomed = prunable(with_files, succeeded, keep, {current, target, *busy, *pinned})
    if not doomed:
        return []
    kept_dirs = {os.path.realpath(layout.release_dir(app, v))
                 for v in with_files if v not in doomed}
    for version in doomed:
        path = layout.release_dir(app, version)
        if path.is_symlink() or os.path.realpath(path) not in kept_dirs:
            remove_tree(path)
        for gone in (layout.slug(app, version), layout.manifest(app, version),
                     layout.env_file(app, version)):
            remove_file(gone)
    return doomed

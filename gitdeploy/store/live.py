"""What is live and who is working: the `current` symlink (the truth the ledger must agree
with), the live release's config and files, and whether a release's worker still runs."""

from __future__ import annotations

import os
from pathlib import Path

from gitdeploy.errors import UsageError
from gitdeploy.model import names
from gitdeploy.store.fsops import read_link
from gitdeploy.store.locks import is_held
from gitdeploy.store.server import Server


def current_version(server: Server, app: str) -> int | None:
    """The live release, from the `current` symlink."""
    target = read_link(server.layout.current(app))
    if target is None:
        return None
    try:
        return names.version(Path(target).name)
    except UsageError:
        return None


def current_config(server: Server, app: str) -> dict[str, str]:
    """The live release's config; before any release went live, the config set so far."""
    version = current_version(server, app)
    if version is not None:
        release = server.ledger.release(app, version)
        if release is not None and release.config is not None:
            return dict(release.config)
    return dict(server.app(app).initial_config)


def release_dir(server: Server, app: str, version: int) -> Path | None:
    """The real directory holding vN's files (releases may share one), None if gone."""
    path = server.layout.release_dir(app, version)
    return Path(os.path.realpath(path)) if path.is_dir() else None


def live_message(server: Server, app: str) -> str:
    version = current_version(server, app)
    return f"v{version} is still live" if version is not None else "no release is live"


def worker_alive(server: Server, app: str, version: int) -> bool:
    """vN's worker holds its release lock for its whole life: free means it is gone."""
    return is_held(server.layout.release_lock(app, version))

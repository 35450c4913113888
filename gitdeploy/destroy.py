"""apps:destroy: stop the app's processes, then remove its repository, files and records."""

from __future__ import annotations

from gitdeploy import processes
from gitdeploy.errors import GitdeployError, UsageError
from gitdeploy.fsops import remove_tree
from gitdeploy.locks import FileLock
from gitdeploy.server import Server


def destroy_app(server: Server, app: str, confirm: str | None) -> None:
    server.app(app)
    if confirm != app:
        raise UsageError(f"destroying {app!r} removes its code, releases and config: "
                         f"confirm with --confirm {app}")
    lock = FileLock(server.layout.app_lock(app))
    if not lock.acquire(timeout=0):
        raise GitdeployError(f"a release of {app!r} is in progress; try again when it ends")
    try:
        processes.remove_app(server, app)
        server.ledger.delete_app(app)
        remove_tree(server.layout.repo(app))
        remove_tree(server.layout.app_dir(app))
    finally:
        lock.release()

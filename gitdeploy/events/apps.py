"""The app lifecycle: apps:create (its directories, bare repository and hook) and
apps:destroy (its processes stopped, then its repository, files and records removed)."""

from __future__ import annotations

import shlex

from gitdeploy.errors import GitdeployError, UsageError
from gitdeploy.git.repo import init_bare
from gitdeploy.model import names
from gitdeploy.processes.apply import remove_app
from gitdeploy.resources import gitdeploy_command, hook_template
from gitdeploy.store.fsops import atomic_write, private_dir, remove_tree
from gitdeploy.store.locks import FileLock
from gitdeploy.store.server import Server


def install_hook(server: Server, app: str) -> None:
    text = (
        hook_template()
        .replace("@GITDEPLOY@", shlex.join(gitdeploy_command()))
        .replace("@ROOT@", shlex.quote(str(server.root)))
        .replace("@APP@", shlex.quote(app))
    )
    atomic_write(server.layout.repo(app) / "hooks" / "post-receive", text.encode(), 0o755)


def create_app(server: Server, app: str) -> None:
    names.app_name(app)
    ledger = server.open_ledger()
    if ledger.app(app) is not None:
        raise UsageError(f"app {app!r} already exists")
    layout = server.layout
    for path in (layout.app_dir(app), layout.releases_dir(app), layout.slugs_dir(app),
                 layout.logs_dir(app), layout.tmp_dir(app), layout.locks_dir(app)):
        private_dir(path)
    if not (layout.repo(app) / "HEAD").exists():
        init_bare(layout.repo(app))
    install_hook(server, app)
    ledger.create_app(app)




def destroy_app(server: Server, app: str, confirm: str | None) -> None:
    server.app(app)
    if confirm != app:
        raise UsageError(f"destroying {app!r} removes its code, releases and config: "
                         f"confirm with --confirm {app}")
    lock = FileLock(server.layout.app_lock(app))
    if not lock.acquire(timeout=0):
        raise GitdeployError(f"a release of {app!r} is in progress; try again when it ends")
    try:
        remove_app(server, app)
        server.ledger.delete_app(app)
        remove_tree(server.layout.repo(app))
        remove_tree(server.layout.app_dir(app))
    finally:
        lock.release()

"""The app lifecycle: apps:create (its directories, bare repository and hooks) and
apps:destroy (its processes stopped, then its repository, files and records removed; never
while a release of it is queued or running, or its postdeploy runs)."""

from __future__ import annotations

import shlex
import time

from gitdeploy.errors import GitdeployError, UsageError
from gitdeploy.git.repo import init_bare, local_config, set_config, supports_proc_receive
from gitdeploy.model import names
from gitdeploy.model.states import PostdeployStatus
from gitdeploy.processes.apply import remove_app
from gitdeploy.proxy import frontdoor
from gitdeploy.resources import HOOKS, gitdeploy_command, hook_template
from gitdeploy.store.fsops import atomic_write, private_dir, remove_tree
from gitdeploy.store.locks import FileLock, is_held
from gitdeploy.store.server import Server

FINISHING_WAIT = 30.0  # seconds apps:destroy waits for a worker packing its slug


# What every app repository is set to: every object a push brings is checked (a corrupt or
# malformed object is refused before anything runs); branch pushes go to hooks/proc-receive,
# whose answer is the push's result (git >= 2.29).
RECEIVE_CONFIG = {"receive.fsckobjects": "true"}
PROC_RECEIVE_CONFIG = {"receive.procreceiverefs": "refs/heads"}


def _hook_text(server: Server, app: str, name: str) -> bytes:
    return (
        hook_template(name)
        .replace("@GITDEPLOY@", shlex.join(gitdeploy_command()))
        .replace("@ROOT@", shlex.quote(str(server.root)))
        .replace("@APP@", shlex.quote(app))
    ).encode()


def prepare_repository(server: Server, app: str) -> bool:
    """Install the hooks and set the repository's receive config where they differ from what
    they should be. True if branch pushes were going to hooks/proc-receive already (so the
    push post-receive sees was answered by it). Run by apps:create, before a push over ssh,
    and by post-receive, so repositories made by an older gitdeploy are brought up to date."""
    repo = server.layout.repo(app)
    hooks = HOOKS if supports_proc_receive() else ("post-receive",)
    config = local_config(repo)
    handled = "proc-receive" in hooks and (repo / "hooks" / "proc-receive").is_file() and all(
        config.get(key) == value for key, value in PROC_RECEIVE_CONFIG.items())
    for name in hooks:
        path, text = repo / "hooks" / name, _hook_text(server, app, name)
        if not path.is_file() or path.read_bytes() != text:
            atomic_write(path, text, 0o755)
    wanted = {**RECEIVE_CONFIG, **(PROC_RECEIVE_CONFIG if "proc-receive" in hooks else {})}
    for key, value in wanted.items():
        if config.get(key) != value:
            set_config(repo, key, value)
    return handled


def create_app(server: Server, app: str) -> None:
    names.app_name(app)
    ledger = server.open_ledger()
    if ledger.app(app) is not None:
        raise UsageError(f"app {app!r} already exists")
    layout = server.layout
    for path in (layout.app_dir(app), layout.releases_dir(app), layout.slugs_dir(app),
                 layout.logs_dir(app), layout.tmp_dir(app), layout.locks_dir(app),
                 layout.data_dir(app)):
        private_dir(path)
    if not (layout.repo(app) / "HEAD").exists():
        init_bare(layout.repo(app))
    prepare_repository(server, app)
    ledger.create_app(app)


def _busy(server: Server, app: str) -> tuple[str, bool] | None:
    """What a live worker of the app is doing, and whether it ends soon (its slug packing
    after the verdict) rather than when a release or a postdeploy ends; None if no worker."""
    layout = server.layout
    for path in sorted(layout.locks_dir(app).glob("v*.lock")):
        name = path.name.removesuffix(".lock")
        if "." in name or not is_held(path):
            continue
        release = server.ledger.release(app, names.version(name))
        if release is None or not release.status.final:
            return f"a release of {app!r} ({name}) is in progress", False
        if release.postdeploy_status == PostdeployStatus.RUNNING.value:
            return (f"the postdeploy of {name} is running (follow it: gitdeploy "
                    f"releases:output -a {app} {name} --follow)"), False
        return f"the worker of {name} is still finishing", True
    return None


def destroy_app(server: Server, app: str, confirm: str | None) -> None:
    server.app(app)
    if confirm != app:
        raise UsageError(f"destroying {app!r} removes its code, releases and config: "
                         f"confirm with --confirm {app}")
    lock = FileLock(server.layout.app_lock(app))
    if not lock.acquire(timeout=0):
        raise GitdeployError(f"a release of {app!r} is in progress; try again when it ends")
    try:
        deadline = time.monotonic() + FINISHING_WAIT
        while (busy := _busy(server, app)) is not None:
            what, soon = busy
            if not soon or time.monotonic() > deadline:
                raise GitdeployError(f"{what}; try again when it ends")
            time.sleep(0.1)
        remove_app(server, app)
        with server.ledger.write():  # a release recorded since would hold its worker lock
            if (busy := _busy(server, app)) is not None:
                raise GitdeployError(f"{busy[0]}, started while {app!r} was being destroyed "
                                     "(its processes were stopped); try again when it ends")
            server.ledger.delete_app(app)
        try:
            with frontdoor.locked(server):
                frontdoor.refresh(server)  # its server blocks out of nginx (domains gone)
        except GitdeployError:
            pass  # the app is gone either way; the next change of the front door retries
        remove_tree(server.layout.repo(app))
        remove_tree(server.layout.app_dir(app))
    finally:
        lock.release()

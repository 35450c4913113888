"""App lifecycle, the live release, and crash recovery of releases whose worker died."""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from pathlib import Path

from gitdeploy import gitcli, names
from gitdeploy.errors import UsageError
from gitdeploy.fsops import atomic_write, private_dir, read_link, remove_file, remove_tree
from gitdeploy.ledger import Release
from gitdeploy.locks import FileLock, is_held
from gitdeploy.output import header
from gitdeploy.resources import hook_template
from gitdeploy.server import Server
from gitdeploy.states import PostdeployStatus, Reason, Status, TransitionError, recovery


def gitdeploy_command() -> list[str]:
    """How hooks and workers start gitdeploy: by absolute path, so a bare PATH works."""
    script = Path(sys.executable).with_name("gitdeploy")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "gitdeploy"]


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
        gitcli.init_bare(layout.repo(app))
    install_hook(server, app)
    ledger.create_app(app)


def current_version(server: Server, app: str) -> int | None:
    """The live release, from the `current` symlink (the truth the ledger must agree with)."""
    target = read_link(server.layout.current(app))
    if target is None:
        return None
    name = Path(target).name
    try:
        return names.version(name)
    except UsageError:
        return None


def current_config(server: Server, app: str) -> dict[str, str]:
    """The live release's config; before any release went live, the config set so far."""
    version = current_version(server, app)
    if version is not None:
        release = server.ledger.release(app, version)
        if release is not None and release.config is not None:
            return dict(release.config)
    record = server.app(app)
    return dict(record.initial_config)


def release_dir(server: Server, app: str, version: int) -> Path | None:
    """The real directory holding vN's files (releases may share one), None if gone."""
    path = server.layout.release_dir(app, version)
    return Path(os.path.realpath(path)) if path.is_dir() else None


def append_log(server: Server, release: Release, text: str) -> None:
    path = server.layout.log(release.app, release.version)
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (text + "\n").encode())
        finally:
            os.close(fd)


def live_message(server: Server, app: str) -> str:
    version = current_version(server, app)
    return f"v{version} is still live" if version is not None else "no release is live"


def reconcile(server: Server, app: str) -> None:
    """Repair what dead workers left: non-final releases, temp files, a stale current.env.

    Runs only while no worker holds the app lock (a running worker repairs its predecessors
    itself), so two repairers never race.
    """
    lock = FileLock(server.layout.app_lock(app))
    if not server.layout.locks_dir(app).is_dir() or not lock.acquire(timeout=0):
        return
    try:
        repair_dead_releases(server, app)
    finally:
        lock.release()


def repair_dead_releases(server: Server, app: str) -> None:
    """Call with the app lock held."""
    layout = server.layout
    live = current_version(server, app)
    for release in server.ledger.unfinished(app):
        alive = is_held(layout.release_lock(app, release.version))
        outcome = recovery(release.status, alive, live == release.version)
        if outcome is None:
            continue
        with contextlib.suppress(TransitionError):
            if outcome is Status.SUCCEEDED:
                server.ledger.transition(app, release.version, Status.SUCCEEDED)
                append_log(server, release,
                           header(f"Released {release.name} (recorded after its worker died)"))
            else:
                discard_release_files(server, app, release.version)
                server.ledger.transition(app, release.version, Status.FAILED, Reason.INTERRUPTED)
                append_log(server, release, header(
                    f"Release {release.name} failed: {Reason.INTERRUPTED} (its worker died)"
                    f" — {live_message(server, app)}"))
    for release in server.ledger.releases(app):
        if release.postdeploy_status == PostdeployStatus.RUNNING.value and not is_held(
                layout.release_lock(app, release.version)):
            server.ledger.update(app, release.version,
                                 postdeploy_status=PostdeployStatus.INTERRUPTED.value)
            append_log(server, release, header(f"Postdeploy of {release.name} interrupted "
                                               "(its worker died)"))
    clean_temp(server, app)
    sync_current_env(server, app)


def discard_release_files(server: Server, app: str, version: int) -> None:
    """Remove a release's directory and env file (never the live one; slug and log stay)."""
    if current_version(server, app) == version:
        return
    remove_tree(server.layout.release_dir(app, version))
    remove_file(server.layout.env_file(app, version))


def clean_temp(server: Server, app: str) -> None:
    """Remove scratch files of workers that are gone (names carry their version)."""
    layout = server.layout
    tmp = layout.tmp_dir(app)
    for entry in tmp.iterdir() if tmp.is_dir() else ():
        version = entry.name.split(".", 1)[0]
        with contextlib.suppress(UsageError):
            if not is_held(layout.release_lock(app, names.version(version))):
                remove_tree(entry)
    for directory in (layout.app_dir(app), layout.slugs_dir(app), layout.releases_dir(app)):
        for entry in directory.glob(".*.tmp-*") if directory.is_dir() else ():
            pid = entry.name.rsplit("-", 1)[-1]
            if not pid.isdigit() or not _pid_alive(int(pid)):
                remove_tree(entry)


def _pid_alive(pid: int) -> bool:
    """A process that still runs (a zombie waiting to be reaped does not)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def sync_current_env(server: Server, app: str) -> None:
    """current.env must name the env file of the release `current` names."""
    from gitdeploy.fsops import swap_symlink

    version = current_version(server, app)
    if version is None:
        return
    expected = f"releases/v{version}.env"
    if read_link(server.layout.current_env(app)) != expected:
        swap_symlink(server.layout.current_env(app), expected)

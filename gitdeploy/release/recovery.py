"""Crash recovery: releases whose worker died, scratch files it left, a stale current.env.

Runs before every release (by the worker, under the app lock) and before commands that read
an app's releases (``reconcile``, only when no worker holds the lock)."""

from __future__ import annotations

import contextlib
import os

from gitdeploy.errors import GitdeployError, UsageError
from gitdeploy.git.repo import update_ref
from gitdeploy.model import names
from gitdeploy.model.release import Release
from gitdeploy.model.retention import rollback_target
from gitdeploy.model.states import PostdeployStatus, Reason, Status, TransitionError, recovery
from gitdeploy.release.golive import Switch
from gitdeploy.store.fsops import read_link, remove_file, remove_tree, swap_symlink
from gitdeploy.store.live import current_version, live_message
from gitdeploy.store.locks import FileLock, is_held
from gitdeploy.store.releaselog import ReleaseLog, append_line, header
from gitdeploy.store.server import Server


def append_log(server: Server, release: Release, text: str) -> None:
    append_line(server.layout.log(release.app, release.version), text)


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
        outcome = recovery(release.status, alive, live == release.version, release.golive)
        if outcome is None:
            continue
        with contextlib.suppress(TransitionError):
            if outcome is Status.SUCCEEDED:
                move_deploy_branch(server, release)
                server.ledger.transition(app, release.version, Status.SUCCEEDED)
                append_log(server, release,
                           header(f"Released {release.name} (recorded after its worker died)"))
            else:
                when, now_live = "", live_message(server, app)
                if live == release.version:  # live, never checked: hand `current` back
                    now_live = hand_back(server, release)
                    live = current_version(server, app)
                    when = " after going live, before its web check passed"
                discard_release_files(server, app, release.version)
                server.ledger.transition(app, release.version, Status.FAILED, Reason.INTERRUPTED)
                append_log(server, release, header(
                    f"Release {release.name} failed: {Reason.INTERRUPTED} (its worker died"
                    f"{when}) — {now_live}"))
    for release in server.ledger.releases(app):
        if release.postdeploy_status == PostdeployStatus.RUNNING.value and not is_held(
                layout.release_lock(app, release.version)):
            server.ledger.update(app, release.version,
                                 postdeploy_status=PostdeployStatus.INTERRUPTED.value)
            append_log(server, release, header(f"Postdeploy of {release.name} interrupted "
                                               "(its worker died)"))
    clean_temp(server, app)
    sync_current_env(server, app)


def move_deploy_branch(server: Server, release: Release) -> str | None:
    """A pushed deploy that succeeded: its branch names the commit now (proc-receive left it
    to the worker, so it moves even when the pusher has gone). None, or why it could not."""
    ref, commit = release.request.get("ref"), release.commit
    if release.kind != "deploy" or not isinstance(ref, str) or commit is None:
        return None
    try:
        update_ref(server.layout.repo(release.app), ref, commit)
    except GitdeployError as exc:
        return f"{ref} could not be moved to {commit[:7]}: {exc.message}"
    return None


def hand_back(server: Server, release: Release) -> str:
    """Point `current` back at what was live before ``release`` went live (or at nothing),
    run that release's processes again and check its web. Returns what is live now."""
    if release.golive is not None:
        previous = release.golive_previous
    else:  # recorded by an older gitdeploy: the newest succeeded release before it
        previous = rollback_target([r.version for r in server.ledger.releases(release.app)
                                    if r.status is Status.SUCCEEDED], release.version)
    if previous is not None and not server.layout.release_dir(release.app, previous).is_dir():
        previous = None
    log = ReleaseLog(server.layout.log(release.app, release.version))
    try:
        switch = Switch(server, release.app, release.version, log)
        switch.previous = previous
        return switch.revert()
    finally:
        os.close(log.fd)


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

    version = current_version(server, app)
    if version is None:
        return
    expected = f"releases/v{version}.env"
    if read_link(server.layout.current_env(app)) != expected:
        swap_symlink(server.layout.current_env(app), expected)

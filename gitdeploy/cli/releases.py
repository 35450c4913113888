"""deploy, releases, releases:info, releases:output, rollback, promote."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from gitdeploy.cli import render
from gitdeploy.cli.common import app_of, out, release_of, stdout_fd, version_arg
from gitdeploy.errors import EXIT_OK, GitdeployError, UsageError
from gitdeploy.events.launch import exit_code, follow, release_finished
from gitdeploy.events.rollback import request_promote, request_rollback, rollback_eligibility
from gitdeploy.model import names
from gitdeploy.model.release import Release, previous_deploy
from gitdeploy.release.recovery import reconcile
from gitdeploy.store.live import current_version
from gitdeploy.store.server import Server


def cmd_deploy(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy.events.deploy import redeploy

    app = app_of(server, args)
    release = redeploy(server, app, args.ref)
    return exit_code(follow(server, app, release.version, stdout_fd()))


def cmd_releases(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    if args.num is not None and args.num < 1:
        raise UsageError("-n must be at least 1")
    releases = server.ledger.releases(app, args.num)
    current = current_version(server, app)
    if args.json:
        out(json.dumps([render.release_object(r, current) for r in releases], indent=2))
    else:
        out(render.releases_table(app, releases, current, datetime.now(UTC)))
    return EXIT_OK


def cmd_releases_info(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    current = current_version(server, app)
    release = release_of(server, app, version_arg(args.version, current, app))
    eligible, note = rollback_eligibility(server, app, release)
    extra: dict[str, Any] = {"rollback_eligible": eligible, "rollback_note": note,
                             "schema_changes": release.schema_changes or [],
                             "changes_since": changes_since(server, app, release)}
    info = render.release_info(release, current, extra)
    out(json.dumps(info, indent=2) if args.json else render.info_text(info, app))
    return EXIT_OK


def changes_since(server: Server, app: str, release: Release) -> dict[str, Any] | None:
    """The commits a deploy brought since the previous successful release; None for other
    kinds of release (a config change or a rollback brings no commits) and the first one."""
    if release.kind != "deploy" or release.commit is None:
        return None
    previous = previous_deploy(server.ledger.releases(app), release)
    if previous is None or previous.commit is None:
        return None
    from gitdeploy.git.history import commits_between

    try:
        commits, more = commits_between(server.layout.repo(app), release.commit, previous.commit)
    except GitdeployError:
        return None
    return {"version": previous.version, "more": more,
            "commits": [{"sha": c.sha, "author": c.author, "subject": c.subject}
                        for c in commits]}


def cmd_releases_output(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    latest = server.ledger.releases(app, 1)
    release = release_of(server, app, version_arg(
        args.version, latest[0].version if latest else None, app))
    if args.follow and not release_finished(server, app, release.version, postdeploy=True):
        follow(server, app, release.version, stdout_fd(), postdeploy=True)
        return EXIT_OK
    path = server.layout.log(app, release.version)
    sys.stdout.flush()
    if path.exists():
        with path.open("rb") as handle:
            while chunk := handle.read(65536):
                sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
    return EXIT_OK


def cmd_rollback(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    version = names.version(args.version) if args.version else None
    release, before = request_rollback(server, app, version)
    final = follow(server, app, release.version, stdout_fd())
    code = exit_code(final)
    if code == EXIT_OK and before is not None:
        out(f"To undo, run: gitdeploy rollback -a {app} v{before}")
    return code


def cmd_promote(server: Server, args: argparse.Namespace) -> int:
    source = app_of(server, args)
    server.app(args.to)
    reconcile(server, args.to)
    release = request_promote(server, source, args.to)
    return exit_code(follow(server, args.to, release.version, stdout_fd()))

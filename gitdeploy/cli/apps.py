"""apps, apps:create, apps:destroy."""

from __future__ import annotations

import argparse
import json
import os
import pwd
from datetime import UTC, datetime

from gitdeploy.cli import render
from gitdeploy.cli.common import out
from gitdeploy.errors import EXIT_OK, UsageError
from gitdeploy.events.apps import create_app
from gitdeploy.release.recovery import reconcile
from gitdeploy.store.live import current_version
from gitdeploy.store.server import Server


def cmd_apps_create(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy.access.sshcommand import ssh_remote

    create_app(server, args.name)
    out(f"Created {args.name}")
    remote = None
    if server.access is not None:  # over ssh: the remote as the client reached us
        remote = ssh_remote(pwd.getpwuid(os.getuid()).pw_name, os.environ.get("SSH_CONNECTION"),
                            args.name)
    out(f"  git remote add deploy {remote or server.layout.repo(args.name)}")
    out("  git push deploy main")
    return EXIT_OK


def cmd_apps(server: Server, args: argparse.Namespace) -> int:
    if not server.exists():
        out("=== Apps\nNo apps yet: create one with `gitdeploy apps:create APP`.")
        return EXIT_OK
    rows = []
    now = datetime.now(UTC)
    for name in server.ledger.apps():
        if not server.visible(name):
            continue
        reconcile(server, name)
        version = current_version(server, name)
        release = server.ledger.release(name, version) if version else None
        rows.append((name, release.name if release else "-",
                     f"{release.description}, {render.age(release.created_at, now)}"
                     if release else "never released"))
    if args.json:
        out(json.dumps([{"name": n, "current": v if v != "-" else None} for n, v, _ in rows]))
        return EXIT_OK
    out("=== Apps")
    for line in render.table(rows):
        out(line)
    return EXIT_OK


def cmd_apps_destroy(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy.events.apps import destroy_app

    if args.name and args.app and args.name != args.app:
        raise UsageError(f"two apps named: {args.name!r} and -a {args.app!r}")
    name = args.name or args.app or os.environ.get("GITDEPLOY_APP")
    if not name:
        raise UsageError("no app given: apps:destroy APP --confirm APP")
    destroy_app(server, name, args.confirm)
    out(f"Destroyed {name}")
    return EXIT_OK

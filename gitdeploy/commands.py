"""The commands' handlers: parsed arguments in, rendered text out (stdout), an exit code back.

Errors are raised, never printed: cli.main prints them. Commands that need git or the worker
import them when they run, so quick commands such as `releases` start fast.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gitdeploy import apps, configure, events, keys, names, render
from gitdeploy.errors import EXIT_OK, GitdeployError, UsageError
from gitdeploy.rollback import request_promote, request_rollback, rollback_eligibility
from gitdeploy.server import Server


def out(text: str = "") -> None:
    print(text, flush=True)


def app_of(server: Server, args: argparse.Namespace) -> str:
    """The app named by -a (or $GITDEPLOY_APP), checked to exist, repaired if a worker died."""
    app = args.app or os.environ.get("GITDEPLOY_APP")
    if not app:
        raise UsageError("no app given: use -a APP (or set GITDEPLOY_APP)")
    server.app(app)
    apps.reconcile(server, app)
    return str(app)


def version_arg(value: str | None, default: int | None, app: str) -> int:
    if value is not None:
        return names.version(value)
    if default is None:
        raise UsageError(f"{app} has no live release: name one, e.g. v1")
    return default


def release_of(server: Server, app: str, version: int) -> Any:
    release = server.ledger.release(app, version)
    if release is None:
        raise UsageError(f"{app} has no release v{version}")
    return release


# --- apps ----------------------------------------------------------------------------------


def cmd_apps_create(server: Server, args: argparse.Namespace) -> int:
    apps.create_app(server, args.name)
    out(f"Created {args.name}")
    out(f"  git remote add deploy {server.layout.repo(args.name)}")
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
        apps.reconcile(server, name)
        version = apps.current_version(server, name)
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
    from gitdeploy.destroy import destroy_app

    destroy_app(server, args.name, args.confirm)
    out(f"Destroyed {args.name}")
    return EXIT_OK


# --- releases ------------------------------------------------------------------------------


def cmd_deploy(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy.deploy import redeploy

    app = app_of(server, args)
    release = redeploy(server, app, args.ref)
    return events.exit_code(events.follow(server, app, release.version))


def cmd_releases(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    if args.num is not None and args.num < 1:
        raise UsageError("-n must be at least 1")
    releases = server.ledger.releases(app, args.num)
    current = apps.current_version(server, app)
    if args.json:
        out(json.dumps([render.release_object(r, current) for r in releases], indent=2))
    else:
        out(render.releases_table(app, releases, current, datetime.now(UTC)))
    return EXIT_OK


def cmd_releases_info(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    current = apps.current_version(server, app)
    release = release_of(server, app, version_arg(args.version, current, app))
    eligible, note = rollback_eligibility(server, app, release)
    extra: dict[str, Any] = {"rollback_eligible": eligible, "rollback_note": note,
                             "schema_changes": release.schema_changes or []}
    info = render.release_info(release, current, extra)
    out(json.dumps(info, indent=2) if args.json else render.info_text(info, app))
    return EXIT_OK


def cmd_releases_output(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    latest = server.ledger.releases(app, 1)
    release = release_of(server, app, version_arg(
        args.version, latest[0].version if latest else None, app))
    if args.follow and not events.release_finished(server, app, release.version, postdeploy=True):
        events.follow(server, app, release.version, postdeploy=True)
        return EXIT_OK
    path = server.layout.log(app, release.version)
    sys.stdout.flush()
    if path.exists():
        with path.open("rb") as handle:
            while chunk := handle.read(65536):
                sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
    return EXIT_OK


# --- config vars, rollback, promotion ------------------------------------------------------


def cmd_config(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    config = apps.current_config(server, app)
    if args.json:
        out(json.dumps(config, indent=2, ensure_ascii=False))
    elif args.shell:
        for key in sorted(config):
            out(f"{key}={shlex.quote(config[key])}")
    else:
        out(f"=== {app} Config Vars")
        width = max((len(key) for key in config), default=0) + 1
        for key in sorted(config):
            lines = config[key].split("\n")
            out(f"{key + ':':<{width}} {lines[0]}")
            for line in lines[1:]:
                out(f"{'':<{width}} {line}")
    return EXIT_OK


def cmd_config_get(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    config = apps.current_config(server, app)
    if args.key not in config:
        raise GitdeployError(f"{names.config_key(args.key)} is not set on {app}")
    out(config[args.key])
    return EXIT_OK


def _config_change(server: Server, args: argparse.Namespace, setting: bool) -> int:
    app = app_of(server, args)
    change = configure.set_vars if setting else configure.unset_vars
    release = change(server, app, args.pairs)
    if release is None:
        out(f"Stored for {app}'s first release (nothing is live yet, so no release was made)")
        return EXIT_OK
    return events.exit_code(events.follow(server, app, release.version))


def cmd_config_set(server: Server, args: argparse.Namespace) -> int:
    return _config_change(server, args, setting=True)


def cmd_config_unset(server: Server, args: argparse.Namespace) -> int:
    return _config_change(server, args, setting=False)


def cmd_rollback(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    version = names.version(args.version) if args.version else None
    release, before = request_rollback(server, app, version)
    final = events.follow(server, app, release.version)
    code = events.exit_code(final)
    if code == EXIT_OK and before is not None:
        out(f"To undo, run: gitdeploy rollback -a {app} v{before}")
    return code


def cmd_promote(server: Server, args: argparse.Namespace) -> int:
    source = app_of(server, args)
    server.app(args.to)
    apps.reconcile(server, args.to)
    release = request_promote(server, source, args.to)
    return events.exit_code(events.follow(server, args.to, release.version))


# --- processes -----------------------------------------------------------------------------


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def cmd_ps(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy import processes

    app = app_of(server, args)
    found = processes.status(server, app)
    if args.json:
        out(json.dumps([{"process": p.name, "state": p.state, "pid": p.pid,
                         "uptime_seconds": p.uptime, "port": p.port} for p in found], indent=2))
        return EXIT_OK
    out(f"=== {app} Processes")
    rows = [(p.name, p.state, f"pid {p.pid}" if p.pid else "-", f"up {_uptime(p.uptime)}",
             f"port {p.port}" if p.port else "") for p in found]
    for line in render.table(rows) or [f"{app} runs no processes"]:
        out(line)
    return EXIT_OK


def cmd_ps_scale(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy import processes

    app = app_of(server, args)
    changes = processes.parse_scale(args.pairs)
    processes.scale(server, app, changes)
    out("Scaled " + ", ".join(f"{kind}={count}" for kind, count in changes.items()))
    return EXIT_OK


def cmd_ps_restart(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy import processes

    app = app_of(server, args)
    out("Restarted " + ", ".join(processes.restart(server, app, args.type)))
    return EXIT_OK


def cmd_logs(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy import processes

    app = app_of(server, args)
    if args.num < 1:
        raise UsageError("-n must be at least 1")
    processes.logs(server, app, args.num, args.tail, out)
    return EXIT_OK


# --- ssh access ----------------------------------------------------------------------------


def cmd_keys(server: Server, args: argparse.Namespace) -> int:
    found = keys.load(server) if server.exists() else []
    if args.json:
        out(json.dumps([{"name": k.name, "fingerprint": k.fingerprint, "admin": k.admin,
                         "apps": list(k.apps)} for k in found], indent=2))
        return EXIT_OK
    out("=== Keys")
    rows = [(k.name, k.fingerprint, "admin" if k.admin else "apps: " + (", ".join(k.apps) or "-"))
            for k in found]
    for line in render.table(rows):
        out(line)
    return EXIT_OK


def cmd_keys_add(server: Server, args: argparse.Namespace) -> int:
    apps_given = [a for a in (args.apps or "").split(",") if a]
    key = keys.add(server, args.name, sys.stdin.read(65536), args.admin, apps_given)
    rights = "admin" if key.admin else "apps: " + (", ".join(key.apps) or "none yet")
    out(f"Added key {key.name} ({key.fingerprint}, {rights}) to {keys.authorized_keys_path()}")
    return EXIT_OK


def cmd_keys_remove(server: Server, args: argparse.Namespace) -> int:
    keys.remove(server, args.name)
    out(f"Removed key {args.name}")
    return EXIT_OK


def cmd_setup(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy.serversetup import setup

    key = None
    if args.admin_key:
        key = (sys.stdin.read(65536) if args.admin_key == "-"
               else Path(args.admin_key).read_text(errors="replace"))
    setup(args.user, args.root, key, out)
    return EXIT_OK


# --- internal: the hook, the worker ------------------------------------------------------


def cmd_hook(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy.hook import post_receive

    if args.hook != "post-receive":
        raise UsageError(f"unknown hook {args.hook!r}")
    refs = sys.stdin.buffer.read().decode(errors="surrogateescape")  # ref names are bytes
    return post_receive(server, args.name, refs, sys.stdout.fileno())


def cmd_worker(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy.worker import run_worker

    return run_worker(server.root, args.name, names.version(args.version), args.lock_fd)

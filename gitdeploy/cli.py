"""The `gitdeploy` command: parse, call, render. Only this module prints errors.

Commands that need dulwich (deploy, the hook) or the worker import them when they run, so
quick commands such as `releases` start fast.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gitdeploy import __version__, apps, client, configure, events, keys, names, oplog, render
from gitdeploy.errors import EXIT_FAILED, EXIT_OK, GitdeployError, UsageError
from gitdeploy.layout import default_root
from gitdeploy.rollback import request_promote, request_rollback, rollback_eligibility
from gitdeploy.server import Server

Handler = Callable[[Server, argparse.Namespace], int]


class Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as a UsageError (exit 2, one sentence)."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{message} (see `gitdeploy {self.prog.split(' ', 1)[-1]} --help`)"
                         if " " in self.prog else message)


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


def cmd_help(server: Server, args: argparse.Namespace) -> int:
    build_parser().print_help()
    return EXIT_OK


# --- internal: the hook, the worker, the ssh forced command --------------------------------


def cmd_ssh_command(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy.dispatch import ssh_command

    raw = os.environb.get(b"SSH_ORIGINAL_COMMAND", b"")
    os.environ.pop("GITDEPLOY_APP", None)  # an app comes from -a over ssh, nothing else
    return ssh_command(server, args.key, raw, build_parser().parse_args)


def cmd_hook(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy.hook import post_receive

    if args.hook != "post-receive":
        raise UsageError(f"unknown hook {args.hook!r}")
    refs = sys.stdin.buffer.read().decode(errors="surrogateescape")  # ref names are bytes
    return post_receive(server, args.name, refs, sys.stdout.fileno())


def cmd_worker(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy.worker import run_worker

    return run_worker(server.root, args.name, names.version(args.version), args.lock_fd)


# --- the parser ----------------------------------------------------------------------------


def _app_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--app", help="the app (default: $GITDEPLOY_APP)")


def build_parser() -> Parser:
    parser = Parser(prog="gitdeploy", description="git push deploys with a release phase")
    parser.add_argument("--root", type=Path, help="server root (default: $GITDEPLOY_ROOT, "
                        "else ~/.gitdeploy)")
    parser.add_argument("--remote", metavar="NAME", help="in a checkout: run on the server of "
                        "this git remote (default: deploy)")
    parser.add_argument("--version", action="version", version=f"gitdeploy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def command(name: str, handler: Handler, help_text: str | None,
                app: bool = True) -> argparse.ArgumentParser:
        kwargs: dict[str, Any] = {"help": help_text} if help_text else {}
        command_parser = sub.add_parser(name, description=help_text, **kwargs)
        command_parser.set_defaults(handler=handler)
        if app:
            _app_option(command_parser)
        return command_parser

    p = command("apps:create", cmd_apps_create, "create an app", app=False)
    p.add_argument("name", metavar="APP")
    p = command("apps", cmd_apps, "list apps and their live release", app=False)
    p.add_argument("--json", action="store_true")
    p = command("apps:destroy", cmd_apps_destroy, "remove an app", app=False)
    p.add_argument("name", metavar="APP")
    p.add_argument("--confirm", metavar="APP")

    p = command("deploy", cmd_deploy, "deploy a commit already pushed (default: branch head)")
    p.add_argument("ref", nargs="?", help="sha, branch or tag")
    p = command("releases", cmd_releases, "release history, newest first")
    p.add_argument("-n", "--num", type=int, help="show at most N")
    p.add_argument("--json", action="store_true")
    p = command("releases:info", cmd_releases_info, "one release (default: the live one)")
    p.add_argument("version", nargs="?", metavar="vN")
    p.add_argument("--json", action="store_true")
    p = command("releases:output", cmd_releases_output, "a release's log")
    p.add_argument("version", nargs="?", metavar="vN")
    p.add_argument("--follow", "-f", action="store_true", help="tail it until it ends")

    p = command("rollback", cmd_rollback, "new release from vN's slug and config "
                "(default: the release before the live one)")
    p.add_argument("version", nargs="?", metavar="vN")
    p = command("config", cmd_config, "show config vars")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true")
    shape.add_argument("--shell", action="store_true", help="KEY='value' lines")
    p = command("config:get", cmd_config_get, "print one config var's value")
    p.add_argument("key", metavar="KEY")
    p = command("config:set", cmd_config_set, "set config vars: a new release")
    p.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    p = command("config:unset", cmd_config_unset, "remove config vars: a new release")
    p.add_argument("pairs", nargs="+", metavar="KEY")
    p = command("promote", cmd_promote, "new release of DST from the app's live slug")
    p.add_argument("--to", required=True, metavar="DST")

    p = command("ps", cmd_ps, "the app's processes")
    p.add_argument("--json", action="store_true")
    p = command("ps:scale", cmd_ps_scale, "set how many of each process type run")
    p.add_argument("pairs", nargs="+", metavar="TYPE=N")
    p = command("ps:restart", cmd_ps_restart, "restart the app's processes")
    p.add_argument("type", nargs="?", metavar="TYPE")
    p = command("logs", cmd_logs, "the processes' output")
    p.add_argument("-n", "--num", type=int, default=100, help="lines per process (100)")
    p.add_argument("--tail", "-t", action="store_true", help="keep printing new lines")
    p = command("keys", cmd_keys, "ssh keys and their rights", app=False)
    p.add_argument("--json", action="store_true")
    p = command("keys:add", cmd_keys_add, "add an ssh public key (read from stdin)", app=False)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--admin", action="store_true", help="may do everything")
    p.add_argument("--apps", metavar="A,B", help="the apps this key may use")
    p = command("keys:remove", cmd_keys_remove, "remove an ssh key", app=False)
    p.add_argument("name", metavar="NAME")
    command("help", cmd_help, "this list", app=False)
    p = command("setup", cmd_setup, "set this machine up as a server (as root)", app=False)
    p.add_argument("--user", default="deploy", help="the deploy user (default: deploy)")
    p.add_argument("--admin-key", metavar="FILE", help="the first admin's public key ('-': stdin)")

    p = command("ssh-command", cmd_ssh_command, None, app=False)
    p.add_argument("--key", required=True)
    p = command("hook", cmd_hook, None, app=False)
    p.add_argument("hook")
    p.add_argument("name", metavar="APP")
    p = command("worker", cmd_worker, None, app=False)
    p.add_argument("name", metavar="APP")
    p.add_argument("version")
    p.add_argument("--lock-fd", type=int)
    return parser


LOCAL_ONLY = frozenset({"hook", "worker", "ssh-command", "help", "setup"})


def remote_for(args: argparse.Namespace) -> client.Remote | None:
    """Client mode, unless a local server root is named (--root or $GITDEPLOY_ROOT)."""
    if args.command in LOCAL_ONLY or args.root or os.environ.get("GITDEPLOY_ROOT"):
        return None
    return client.find_remote(args.remote)


def remote_words(argv: list[str], args: argparse.Namespace, remote: client.Remote) -> list[str]:
    """The words to run on the server: global options dropped, ``-a APP`` inferred."""
    words: list[str] = []
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word == "--remote":
            skip = True
        elif not word.startswith("--remote="):
            words.append(word)
    position = words.index(args.command)
    if hasattr(args, "app") and args.app is None:
        words[position + 1 : position + 1] = ["-a", remote.app]
    return words[position:]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    server: Server | None = None
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_OK
        remote = remote_for(args)
        if remote is not None:
            client.run_remote(remote, remote_words(list(sys.argv[1:] if argv is None else argv),
                                                   args, remote))
        server = Server(args.root or default_root())
        result: int = args.handler(server, args)
        return result
    except GitdeployError as exc:
        sys.stdout.flush()
        print(f"error: {exc.message}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        where = "the operational log"
        if server is not None and server.exists():
            oplog.start(server.layout.oplog)
            oplog.log("command.crash", level="error", argv=list(argv or sys.argv[1:]),
                      exc_info=True)
            where = str(server.layout.oplog)
        print(f"error: internal error ({exc.__class__.__name__}: {exc}); details in {where}",
              file=sys.stderr, flush=True)
        return EXIT_FAILED
    finally:
        if server is not None:
            server.close()

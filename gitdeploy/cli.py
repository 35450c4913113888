"""The `gitdeploy` command: parse, call, render. Only this module prints errors.

The handlers live in commands.py; this module builds the parser, picks local or client mode,
and turns errors into one line and an exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gitdeploy import __version__, client, commands, oplog
from gitdeploy.errors import EXIT_FAILED, EXIT_OK, GitdeployError, UsageError
from gitdeploy.layout import default_root
from gitdeploy.server import Server

Handler = Callable[[Server, argparse.Namespace], int]


class Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as a UsageError (exit 2, one sentence)."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{message} (see `gitdeploy {self.prog.split(' ', 1)[-1]} --help`)"
                         if " " in self.prog else message)


# --- commands that need the parser -----------------------------------------------------


def cmd_help(server: Server, args: argparse.Namespace) -> int:
    build_parser().print_help()
    return EXIT_OK


def cmd_ssh_command(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy.dispatch import ssh_command

    raw = os.environb.get(b"SSH_ORIGINAL_COMMAND", b"")
    os.environ.pop("GITDEPLOY_APP", None)  # an app comes from -a over ssh, nothing else
    return ssh_command(server, args.key, raw, build_parser().parse_args)


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

    p = command("apps:create", commands.cmd_apps_create, "create an app", app=False)
    p.add_argument("name", metavar="APP")
    p = command("apps", commands.cmd_apps, "list apps and their live release", app=False)
    p.add_argument("--json", action="store_true")
    p = command("apps:destroy", commands.cmd_apps_destroy, "remove an app", app=False)
    p.add_argument("name", metavar="APP")
    p.add_argument("--confirm", metavar="APP")

    p = command("deploy", commands.cmd_deploy,
                "deploy a commit already pushed (default: branch head)")
    p.add_argument("ref", nargs="?", help="sha, branch or tag")
    p = command("releases", commands.cmd_releases, "release history, newest first")
    p.add_argument("-n", "--num", type=int, help="show at most N")
    p.add_argument("--json", action="store_true")
    p = command("releases:info", commands.cmd_releases_info, "one release (default: the live one)")
    p.add_argument("version", nargs="?", metavar="vN")
    p.add_argument("--json", action="store_true")
    p = command("releases:output", commands.cmd_releases_output, "a release's log")
    p.add_argument("version", nargs="?", metavar="vN")
    p.add_argument("--follow", "-f", action="store_true", help="tail it until it ends")

    p = command("rollback", commands.cmd_rollback, "new release from vN's slug and config "
                "(default: the release before the live one)")
    p.add_argument("version", nargs="?", metavar="vN")
    p = command("config", commands.cmd_config, "show config vars")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true")
    shape.add_argument("--shell", action="store_true", help="KEY='value' lines")
    p = command("config:get", commands.cmd_config_get, "print one config var's value")
    p.add_argument("key", metavar="KEY")
    p = command("config:set", commands.cmd_config_set, "set config vars: a new release")
    p.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    p = command("config:unset", commands.cmd_config_unset, "remove config vars: a new release")
    p.add_argument("pairs", nargs="+", metavar="KEY")
    p = command("promote", commands.cmd_promote, "new release of DST from the app's live slug")
    p.add_argument("--to", required=True, metavar="DST")

    p = command("ps", commands.cmd_ps, "the app's processes")
    p.add_argument("--json", action="store_true")
    p = command("ps:scale", commands.cmd_ps_scale, "set how many of each process type run")
    p.add_argument("pairs", nargs="+", metavar="TYPE=N")
    p = command("ps:restart", commands.cmd_ps_restart, "restart the app's processes")
    p.add_argument("type", nargs="?", metavar="TYPE")
    p = command("logs", commands.cmd_logs, "the processes' output")
    p.add_argument("-n", "--num", type=int, default=100, help="lines per process (100)")
    p.add_argument("--tail", "-t", action="store_true", help="keep printing new lines")
    p = command("keys", commands.cmd_keys, "ssh keys and their rights", app=False)
    p.add_argument("--json", action="store_true")
    p = command("keys:add", commands.cmd_keys_add, "add an ssh public key (read from stdin)",
                app=False)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--admin", action="store_true", help="may do everything")
    p.add_argument("--apps", metavar="A,B", help="the apps this key may use")
    p = command("keys:remove", commands.cmd_keys_remove, "remove an ssh key", app=False)
    p.add_argument("name", metavar="NAME")
    command("help", cmd_help, "this list", app=False)
    p = command("setup", commands.cmd_setup, "set this machine up as a server (as root)", app=False)
    p.add_argument("--user", default="deploy", help="the deploy user (default: deploy)")
    p.add_argument("--admin-key", metavar="FILE", help="the first admin's public key ('-': stdin)")

    p = command("ssh-command", cmd_ssh_command, None, app=False)
    p.add_argument("--key", required=True)
    p = command("hook", commands.cmd_hook, None, app=False)
    p.add_argument("hook")
    p.add_argument("name", metavar="APP")
    p = command("worker", commands.cmd_worker, None, app=False)
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

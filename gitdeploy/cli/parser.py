"""The command line: every command, its options and its handler.

A handler is named ("module:function" under gitdeploy.cli), not imported: a command imports
only its own module when it runs, so the hook and quick commands start fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gitdeploy import __version__
from gitdeploy.errors import EXIT_OK, UsageError
from gitdeploy.store.server import Server

Handler = Callable[[Server, argparse.Namespace], int]


def run_handler(server: Server, args: argparse.Namespace) -> int:
    """Import the parsed command's module and run its handler."""
    module, _, name = str(args.handler).partition(":")
    handler: Handler = getattr(importlib.import_module(f"gitdeploy.cli.{module}"), name)
    return handler(server, args)


class Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as a UsageError (exit 2, one sentence)."""

    def error(self, message: str) -> Any:
        if message.startswith("argument COMMAND: invalid choice: "):
            raise UsageError(unknown_command(message.split("'")[1]))
        raise UsageError(f"{message} (see `gitdeploy {self.prog.split(' ', 1)[-1]} --help`)"
                         if " " in self.prog else message)


INTERNAL = frozenset({"ssh-command", "hook", "worker"})  # run by sshd, git and gitdeploy


def unknown_command(word: str) -> str:
    import difflib

    public = [name for name in build_parser_commands() if name not in INTERNAL]
    close = difflib.get_close_matches(word, public, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown command {word!r}{hint}; see `gitdeploy help`"


def build_parser_commands() -> list[str]:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return list(sub.choices)


# --- commands that need the parser -----------------------------------------------------


def cmd_help(server: Server, args: argparse.Namespace) -> int:
    build_parser().print_help()
    return EXIT_OK


def cmd_ssh_command(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy.access.dispatch import ssh_command

    raw = os.environb.get(b"SSH_ORIGINAL_COMMAND", b"")
    os.environ.pop("GITDEPLOY_APP", None)  # an app comes from -a over ssh, nothing else
    return ssh_command(server, args.key, raw, build_parser().parse_args, run_handler)


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

    def command(name: str, handler: str, help_text: str | None,
                app: bool = True) -> argparse.ArgumentParser:
        kwargs: dict[str, Any] = {"help": help_text} if help_text else {}
        command_parser = sub.add_parser(name, description=help_text, **kwargs)
        command_parser.set_defaults(handler=handler)
        if app:
            _app_option(command_parser)
        return command_parser

    p = command("apps:create", "apps:cmd_apps_create", "create an app", app=False)
    p.add_argument("name", metavar="APP")
    p = command("apps", "apps:cmd_apps", "list apps and their live release", app=False)
    p.add_argument("--json", action="store_true")
    p = command("apps:destroy", "apps:cmd_apps_destroy", "remove an app")
    p.add_argument("name", metavar="APP", nargs="?", help="the app (or -a APP)")
    p.add_argument("--confirm", metavar="APP")

    p = command("deploy", "releases:cmd_deploy",
                "deploy a commit already pushed (default: branch head)")
    p.add_argument("ref", nargs="?", help="sha, branch or tag")
    p = command("releases", "releases:cmd_releases", "release history, newest first")
    p.add_argument("-n", "--num", type=int, help="show at most N")
    p.add_argument("--json", action="store_true")
    p = command("releases:info", "releases:cmd_releases_info",
                "one release (default: the live one)")
    p.add_argument("version", nargs="?", metavar="vN")
    p.add_argument("--json", action="store_true")
    p = command("releases:output", "releases:cmd_releases_output", "a release's log")
    p.add_argument("version", nargs="?", metavar="vN")
    p.add_argument("--follow", "-f", action="store_true", help="tail it until it ends")

    p = command("rollback", "releases:cmd_rollback", "new release from vN's slug and config "
                "(default: the release before the live one)")
    p.add_argument("version", nargs="?", metavar="vN")
    p = command("config", "config:cmd_config", "show config vars")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true")
    shape.add_argument("--shell", action="store_true", help="KEY='value' lines")
    p = command("config:get", "config:cmd_config_get", "print one config var's value")
    p.add_argument("key", metavar="KEY")
    p = command("config:set", "config:cmd_config_set", "set config vars: a new release "
                "(a bare KEY takes its value from stdin)")
    p.add_argument("pairs", nargs="+", metavar="KEY=VALUE|KEY")
    p = command("config:unset", "config:cmd_config_unset", "remove config vars: a new release")
    p.add_argument("pairs", nargs="+", metavar="KEY")
    p = command("promote", "releases:cmd_promote", "new release of DST from the app's live slug")
    p.add_argument("--to", required=True, metavar="DST")

    p = command("ps", "processes:cmd_ps", "the app's processes")
    p.add_argument("--json", action="store_true")
    p = command("ps:scale", "processes:cmd_ps_scale", "set how many of each process type run")
    p.add_argument("pairs", nargs="+", metavar="TYPE=N")
    p = command("ps:restart", "processes:cmd_ps_restart", "restart the app's processes")
    p.add_argument("type", nargs="?", metavar="TYPE")
    p = command("run", "processes:cmd_run", "a one-off command in the live release's sandbox, "
                "with its config: run -a APP -- CMD...")
    p.add_argument("words", nargs=argparse.REMAINDER, metavar="CMD")
    p = command("logs", "processes:cmd_logs", "the processes' output")
    p.add_argument("-n", "--num", type=int, default=100, help="lines per process (100)")
    p.add_argument("--tail", "-t", action="store_true", help="keep printing new lines")
    command("builds:cache:purge", "builds:cmd_builds_cache_purge",
            "empty the app's build cache (uv's, npm's)")
    p = command("builds:env", "builds:cmd_builds_env", "the network settings builds get "
                "(proxies, CA bundles, package indexes)", app=False)
    p.add_argument("--json", action="store_true")
    p = command("builds:env:set", "builds:cmd_builds_env_set", "set a network setting of "
                "builds (NAME= hides the server environment's)", app=False)
    p.add_argument("pairs", nargs="*", metavar="NAME=VALUE")
    p.add_argument("--from-environment", action="store_true",
                   help="store the network settings of this command's own environment")
    p = command("builds:env:unset", "builds:cmd_builds_env_unset",
                "remove a network setting of builds", app=False)
    p.add_argument("pairs", nargs="+", metavar="NAME")
    p = command("domains", "domains:cmd_domains", "the domains that reach the app")
    p.add_argument("--json", action="store_true")
    p = command("domains:add", "domains:cmd_domains_add", "route domains to the app")
    p.add_argument("hosts", nargs="+", metavar="HOST")
    p = command("domains:remove", "domains:cmd_domains_remove", "stop routing domains to it")
    p.add_argument("hosts", nargs="+", metavar="HOST")
    p = command("settings", "domains:cmd_settings", "the server's settings (the front door)",
                app=False)
    p.add_argument("--json", action="store_true")
    p = command("settings:set", "domains:cmd_settings_set", "change server settings",
                app=False)
    p.add_argument("pairs", nargs="+", metavar="NAME=VALUE")
    p = command("settings:unset", "domains:cmd_settings_unset", "back to the default",
                app=False)
    p.add_argument("names", nargs="+", metavar="NAME")
    p = command("certs", "certs:cmd_certs", "the app's TLS certificate")
    p.add_argument("--json", action="store_true")
    p = command("certs:add", "certs:cmd_certs_add", "check and store the app's TLS certificate "
                "and key (PEM files; '-': both from stdin, the certificate first)")
    p.add_argument("cert", metavar="CERT", help="the certificate, then its chain ('-': stdin)")
    p.add_argument("key", metavar="KEY", nargs="?", help="its private key")
    command("certs:remove", "certs:cmd_certs_remove", "remove the app's TLS certificate and key")
    p = command("keys", "keys:cmd_keys", "ssh keys and their rights", app=False)
    p.add_argument("--json", action="store_true")
    p = command("keys:add", "keys:cmd_keys_add", "add an ssh public key (read from stdin)",
                app=False)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--admin", action="store_true", help="may do everything")
    p.add_argument("--apps", metavar="A,B", help="the apps this key may use")
    p = command("keys:remove", "keys:cmd_keys_remove", "remove an ssh key", app=False)
    p.add_argument("name", metavar="NAME")
    command("help", "parser:cmd_help", "this list", app=False)
    p = command("setup", "internal:cmd_setup", "set this machine up as a server (as root)",
                app=False)
    p.add_argument("--user", default="deploy", help="the deploy user (default: deploy)")
    p.add_argument("--admin-key", metavar="FILE", help="the first admin's public key ('-': stdin)")
    p.add_argument("--admin-name", metavar="NAME",
                   help="the admin key's name (default: the key's comment)")
    p.add_argument("--domain", metavar="DOMAIN",
                   help="the server's domain: every app answers on APP.DOMAIN")

    p = command("ssh-command", "parser:cmd_ssh_command", None, app=False)
    p.add_argument("--key", required=True)
    p = command("hook", "internal:cmd_hook", None, app=False)
    p.add_argument("hook")
    p.add_argument("name", metavar="APP")
    p = command("worker", "internal:cmd_worker", None, app=False)
    p.add_argument("name", metavar="APP")
    p.add_argument("version")
    p.add_argument("--lock-fd", type=int)
    p.add_argument("--lock-socket")
    return parser

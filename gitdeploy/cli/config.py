"""config, config:get, config:set, config:unset."""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from gitdeploy.appconfig.configvars import MAX_VALUE, stdin_key
from gitdeploy.cli.common import app_of, out, stdout_fd
from gitdeploy.errors import EXIT_OK, GitdeployError, UsageError
from gitdeploy.events.config import set_vars, unset_vars
from gitdeploy.events.launch import exit_code, follow
from gitdeploy.model import names
from gitdeploy.store.live import current_config
from gitdeploy.store.server import Server


def cmd_config(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    config = current_config(server, app)
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
    config = current_config(server, app)
    if args.key not in config:
        raise GitdeployError(f"{names.config_key(args.key)} is not set on {app}")
    out(config[args.key])
    return EXIT_OK


def read_value_from_stdin(key: str) -> str:
    """The value of ``config:set KEY``: all of stdin (over ssh: what the client sends), so it
    never passes through any process's command line and may span lines."""
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError(f"config:set {key} reads the value from stdin: pipe it in "
                         f"(config:set -a APP {key} < FILE)")
    data = sys.stdin.buffer.read(MAX_VALUE * 4 + 3)  # UTF-8 takes up to 4 bytes a character
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise UsageError(f"the value of {key} on stdin is not UTF-8 text") from None


def _config_change(server: Server, args: argparse.Namespace, setting: bool) -> int:
    app = app_of(server, args)
    if setting:
        key = stdin_key(args.pairs)
        value = read_value_from_stdin(key) if key is not None else None
        release = set_vars(server, app, args.pairs, value)
    else:
        release = unset_vars(server, app, args.pairs)
    if release is None:
        out(f"Stored for {app}'s first release (nothing is live yet, so no release was made)")
        return EXIT_OK
    return exit_code(follow(server, app, release.version, stdout_fd()))


def cmd_config_set(server: Server, args: argparse.Namespace) -> int:
    return _config_change(server, args, setting=True)


def cmd_config_unset(server: Server, args: argparse.Namespace) -> int:
    return _config_change(server, args, setting=False)

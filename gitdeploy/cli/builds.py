"""builds:cache:purge, builds:env, builds:env:set, builds:env:unset."""

from __future__ import annotations

import argparse
import json
import os

from gitdeploy.cli.common import app_of, out
from gitdeploy.errors import EXIT_OK
from gitdeploy.events.builds import build_env, purge_cache, set_build_env, unset_build_env
from gitdeploy.store.releaselog import human_size
from gitdeploy.store.server import Server


def cmd_builds_cache_purge(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    size = purge_cache(server, app)
    out(f"Purged {app}'s build cache ({human_size(size) if size else 'it was empty'}): "
        "the next build downloads its packages again")
    return EXIT_OK


def cmd_builds_env(server: Server, args: argparse.Namespace) -> int:
    shown = build_env(server)
    if args.json:
        out(json.dumps({name: {"value": value, "from": origin}
                        for name, (value, origin) in shown.items()}, indent=2))
        return EXIT_OK
    out("=== Network settings of builds (not seen by release commands or processes)")
    if not shown:
        out("none: builds reach the registries directly")
    width = max((len(name) for name in shown), default=0) + 1
    for name, (value, origin) in shown.items():
        out(f"{name + ':':<{width}} {value}  ({origin})")
    return EXIT_OK


def cmd_builds_env_set(server: Server, args: argparse.Namespace) -> int:
    values = set_build_env(server, args.pairs,
                           os.environ if args.from_environment else None)
    out(f"Builds now get {', '.join(sorted(values))} (from the next build on)")
    return EXIT_OK


def cmd_builds_env_unset(server: Server, args: argparse.Namespace) -> int:
    unset_build_env(server, args.pairs)
    out(f"Removed the server setting of {', '.join(args.pairs)} (the server's environment "
        "still applies, if it has them)")
    return EXIT_OK

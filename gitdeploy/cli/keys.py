"""keys, keys:add, keys:remove."""

from __future__ import annotations

import argparse
import json
import sys

from gitdeploy.access import keys
from gitdeploy.cli import render
from gitdeploy.cli.common import out
from gitdeploy.errors import EXIT_OK
from gitdeploy.store.server import Server


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

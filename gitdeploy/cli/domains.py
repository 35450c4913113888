"""domains, domains:add, domains:remove; settings, settings:set, settings:unset."""

from __future__ import annotations

import argparse
import json

from gitdeploy.cli import render
from gitdeploy.cli.common import app_of, out
from gitdeploy.errors import EXIT_OK
from gitdeploy.events import domains
from gitdeploy.proxy.frontdoor import SETTINGS, enabled
from gitdeploy.store.server import Server


def cmd_domains(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    found = domains.app_domains(server, app)
    if args.json:
        out(json.dumps([{"hostname": host, "kind": kind} for host, kind in found], indent=2))
        return EXIT_OK
    out(f"=== {app} Domains")
    for line in render.table([(host, kind) for host, kind in found]) or [
            f"{app} has no domain: gitdeploy domains:add -a {app} HOST"]:
        out(line)
    if not enabled(server):
        out("(the front door is off: nothing routes these to the app; see `gitdeploy settings`)")
    return EXIT_OK


def cmd_domains_add(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    added = domains.add_domains(server, app, args.hosts)
    out(f"Added {', '.join(added)} to {app}" if added else
        f"{app} already has {', '.join(args.hosts)}")
    return EXIT_OK


def cmd_domains_remove(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    domains.remove_domains(server, app, args.hosts)
    out(f"Removed {', '.join(args.hosts)} from {app}")
    return EXIT_OK


def cmd_settings(server: Server, args: argparse.Namespace) -> int:
    found = domains.show_settings(server)
    if args.json:
        out(json.dumps(found, indent=2))
        return EXIT_OK
    out("=== Server settings")
    rows = [(name, found.get(name, "-"), help_text) for name, help_text in SETTINGS.items()]
    for line in render.table(rows):
        out(line)
    return EXIT_OK


def cmd_settings_set(server: Server, args: argparse.Namespace) -> int:
    domains.set_settings(server, args.pairs)
    out(f"Set {', '.join(p.partition('=')[0] for p in args.pairs)}")
    return EXIT_OK


def cmd_settings_unset(server: Server, args: argparse.Namespace) -> int:
    domains.set_settings(server, [], args.names)
    out(f"Unset {', '.join(args.names)}")
    return EXIT_OK

"""ps, ps:scale, ps:restart, run, logs."""

from __future__ import annotations

import argparse
import json
import sys

from gitdeploy.cli import render
from gitdeploy.cli.common import app_of, out
from gitdeploy.errors import EXIT_OK, UsageError
from gitdeploy.processes import control
from gitdeploy.store.server import Server


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def cmd_ps(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    found = control.status(server, app)
    if args.json:
        out(json.dumps([{"process": p.name, "state": p.state, "pid": p.pid,
                         "uptime_seconds": p.uptime, "port": p.port,
                         "release": f"v{p.release}" if p.release else None}
                        for p in found], indent=2))
        return EXIT_OK
    out(f"=== {app} Processes")
    rows = [(p.name, f"v{p.release}" if p.release else "-", p.state,
             f"pid {p.pid}" if p.pid else "-", f"up {_uptime(p.uptime)}",
             f"port {p.port}" if p.port else "") for p in found]
    for line in render.table(rows) or [f"{app} runs no processes"]:
        out(line)
    return EXIT_OK


def cmd_ps_scale(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    changes = control.parse_scale(args.pairs)
    if control.scale(server, app, changes, out):
        from gitdeploy.proxy import frontdoor

        with frontdoor.locked(server):  # the upstream: the web instances now running
            frontdoor.refresh(server)
    out("Scaled " + ", ".join(f"{kind}={count}" for kind, count in changes.items()))
    return EXIT_OK


def cmd_ps_restart(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    out("Restarted " + ", ".join(control.restart(server, app, args.type, out)))
    return EXIT_OK


def cmd_run(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy.release.oneoff import command_line, run_one_off

    app = app_of(server, args)
    command = command_line(args.words)
    sys.stdout.flush()
    return run_one_off(server, app, command)


def cmd_logs(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    if args.num < 1:
        raise UsageError("-n must be at least 1")
    control.logs(server, app, args.num, args.tail, out)
    return EXIT_OK

"""setup (as root), and what gitdeploy runs itself: the hook and the worker."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gitdeploy.cli.common import out
from gitdeploy.errors import EXIT_OK, UsageError
from gitdeploy.model import names
from gitdeploy.store.server import Server


def cmd_setup(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy.access.setup import setup

    key = None
    if args.admin_key:
        key = (sys.stdin.read(65536) if args.admin_key == "-"
               else Path(args.admin_key).read_text(errors="replace"))
    domain = names.host_name(args.domain) if args.domain else None
    setup(args.user, args.root, key, out, admin_name=args.admin_name, domain=domain)
    return EXIT_OK


def cmd_hook(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy.cli.hook import post_receive, proc_receive

    if args.hook == "proc-receive":  # stdout is git's: the protocol, nothing else
        return proc_receive(server, args.name, sys.stdin.fileno(), sys.stdout.fileno(),
                            sys.stderr.fileno())
    if args.hook != "post-receive":
        raise UsageError(f"unknown hook {args.hook!r}")
    refs = sys.stdin.buffer.read().decode(errors="surrogateescape")  # ref names are bytes
    return post_receive(server, args.name, refs, sys.stdout.fileno())


def cmd_worker(server: Server, args: argparse.Namespace) -> int:
    from gitdeploy.release.worker import run_worker
    from gitdeploy.store.locks import take_handed_over

    lock_fd = args.lock_fd
    if args.lock_socket:  # a worker in its own unit: the starter hands the lock over
        lock_fd = take_handed_over(Path(args.lock_socket))
    return run_worker(server.root, args.name, names.version(args.version), lock_fd)

"""The `gitdeploy` command: parse, pick local or client mode, call the command's handler,
and turn errors into one line and an exit code. Only entry points print errors."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gitdeploy.appconfig.configvars import redact_argv
from gitdeploy.cli.parser import build_parser, run_handler
from gitdeploy.errors import EXIT_FAILED, EXIT_OK, GitdeployError
from gitdeploy.run.cmdline import set_cmdline
from gitdeploy.store.layout import default_root
from gitdeploy.store.server import Server

if TYPE_CHECKING:
    from gitdeploy.access.client import Remote

LOCAL_ONLY = frozenset({"hook", "worker", "ssh-command", "help", "setup"})


def remote_for(args: argparse.Namespace) -> Remote | None:
    """Client mode, unless a local server root is named (--root or $GITDEPLOY_ROOT)."""
    if args.command in LOCAL_ONLY or args.root or os.environ.get("GITDEPLOY_ROOT"):
        return None
    from gitdeploy.access.client import find_remote  # client mode only

    return find_remote(args.remote)


def remote_words(argv: list[str], args: argparse.Namespace, remote: Remote) -> list[str]:
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
        if args.command == "config:set":  # its values must not show in `ps`
            set_cmdline(redact_argv(sys.argv))
        remote = remote_for(args)
        if remote is not None:
            from gitdeploy.access.client import run_remote

            run_remote(remote, remote_words(list(sys.argv[1:] if argv is None else argv),
                                                   args, remote))
        server = Server(args.root or default_root())
        result: int = run_handler(server, args)
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
            from gitdeploy.store import oplog

            oplog.start(server.layout.oplog)
            oplog.bind().error("command.crash", argv=redact_argv(argv or sys.argv[1:]),
                               exc_info=True)
            where = str(server.layout.oplog)
        print(f"error: internal error ({exc.__class__.__name__}: {exc}); details in {where}",
              file=sys.stderr, flush=True)
        return EXIT_FAILED
    finally:
        if server is not None:
            server.close()

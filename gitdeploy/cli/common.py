"""What every command handler shares: printing, the app an invocation names, versions."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from gitdeploy.errors import UsageError
from gitdeploy.model import names
from gitdeploy.release.recovery import reconcile
from gitdeploy.store.server import Server


def stdout_fd() -> int:
    """Where a followed release log goes: stdout, with what was printed before flushed."""
    sys.stdout.flush()
    return sys.stdout.fileno()


def out(text: str = "") -> None:
    print(text, flush=True)


def app_of(server: Server, args: argparse.Namespace) -> str:
    """The app named by -a (or $GITDEPLOY_APP), checked to exist, repaired if a worker died."""
    app = args.app or os.environ.get("GITDEPLOY_APP")
    if not app:
        raise UsageError("no app given: use -a APP (or set GITDEPLOY_APP)")
    server.app(app)
    reconcile(server, app)
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

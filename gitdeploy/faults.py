"""Fail-points for the fault-injection tests.

``GITDEPLOY_FAULT=name[,name...]`` makes a process that reaches one of these points kill
itself with SIGKILL there, as a crash or ``kill -9`` would. Unset (always, outside the
tests) a point costs one set lookup.
"""

from __future__ import annotations

import os
import signal

ARMED = frozenset(filter(None, os.environ.get("GITDEPLOY_FAULT", "").split(",")))


def point(name: str) -> None:
    if name in ARMED:
        os.kill(os.getpid(), signal.SIGKILL)

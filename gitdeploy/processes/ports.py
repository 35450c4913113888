"""Each app's block of local ports, claimed once and kept in the ledger."""

from __future__ import annotations

import os

from gitdeploy.errors import GitdeployError
from gitdeploy.processes import units
from gitdeploy.store.server import Server

PORT_START = 5000


def _ports_free(base: int) -> bool:
    """Nothing bound to the block's first ports. SO_REUSEADDR, as web servers set it: a port
    whose old connections linger in TIME_WAIT is free for them, so it is free for us."""
    import socket  # only when an app first claims its ports

    half = units.PORT_BLOCK // 2  # behind the front door, a release uses either half
    for port in (base, base + 1, base + half, base + half + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def port_base(server: Server, app: str) -> int:
    """The app's block of ports, claimed once: the first free block from $GITDEPLOY_PORT_BASE
    (default 5000) in steps of 100, skipping blocks other apps own or something listens on."""
    start = int(os.environ.get("GITDEPLOY_PORT_BASE", PORT_START))

    def choose(taken: set[int]) -> int:
        for base in range(start, 65000, units.PORT_BLOCK):
            if base not in taken and _ports_free(base):
                return base
        raise GitdeployError("no free block of ports left for the app's web processes")

    return server.ledger.claim_port_base(app, choose)

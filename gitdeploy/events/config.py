"""Config vars: every change is a new release from the live slug, unless nothing is live yet."""

from __future__ import annotations

from gitdeploy.appconfig.configvars import ConfigChange, parse_assignments, parse_unset
from gitdeploy.events import launch
from gitdeploy.model.release import Release
from gitdeploy.store.live import current_config, current_version
from gitdeploy.store.server import Server


def change_config(server: Server, app: str, change: ConfigChange) -> Release | None:
    """Start the release that applies ``change``; None if it was stored for the first one.

    The change is recorded as a delta and applied by the worker to the config live at that
    moment, so concurrent changes queue up instead of overwriting each other; before the
    first release, it is applied to the stored config inside one write transaction.
    """
    if current_version(server, app) is None:
        with server.ledger.write():  # read-modify-write under the ledger's write lock
            if not server.ledger.unfinished(app):
                server.ledger.set_initial_config(app, change.apply(current_config(server, app)))
                return None
    return launch.start(server, app, kind="config", description=change.describe(),
                        request={"set": change.set, "unset": list(change.unset)})


def set_vars(server: Server, app: str, assignments: list[str],
             stdin_value: str | None = None) -> Release | None:
    """``stdin_value``: the value of the one bare KEY among ``assignments``, if any."""
    return change_config(server, app, parse_assignments(assignments, stdin_value))


def unset_vars(server: Server, app: str, keys: list[str]) -> Release | None:
    return change_config(server, app, parse_unset(keys, current_config(server, app)))

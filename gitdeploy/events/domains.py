"""Domains (domains, domains:add, domains:remove) and the server's settings (settings,
settings:set, settings:unset): each change reaches nginx checked, or not at all."""

from __future__ import annotations

from collections.abc import Callable

from gitdeploy.errors import GitdeployError, UsageError
from gitdeploy.model.names import host_name
from gitdeploy.proxy import frontdoor, nginx
from gitdeploy.store import routes
from gitdeploy.store.server import Server


def app_domains(server: Server, app: str) -> list[tuple[str, str]]:
    """(host, "custom" or "default") for each host that reaches the app."""
    server.app(app)
    own = {host for host, _ in routes.domains(server.ledger, app)}
    return [(host, "custom" if host in own else "default")
            for host in frontdoor.hosts(server, app)]


def _apply(server: Server, change: Callable[[], object], undo: Callable[[], object]) -> None:
    """``change`` the ledger, then nginx; if nginx refuses, ``undo`` and raise."""
    with frontdoor.locked(server):
        change()
        try:
            frontdoor.refresh(server)
        except GitdeployError:
            undo()
            raise


def add_domains(server: Server, app: str, hosts: list[str]) -> list[str]:
    """Route ``hosts`` to the app (once nginx serves them: reloads are asynchronous); the
    ones it did not have."""
    server.app(app)
    checked = list(dict.fromkeys(host_name(host) for host in hosts))
    added: list[str] = []

    def change() -> None:
        added.extend(routes.add_domains(server.ledger, app, checked))

    _apply(server, change, lambda: routes.remove_domains(server.ledger, app, added))
    _wait(server, checked, routed=True)
    return added


def _wait(server: Server, hosts: list[str], routed: bool) -> None:
    if not frontdoor.wait_for_hosts(server, hosts, routed):
        raise GitdeployError("the change is saved, but nginx has not loaded it after 10 s: "
                             "is it running, and does it include gitdeploy's config? (see "
                             "README, 'The front door')")


def remove_domains(server: Server, app: str, hosts: list[str]) -> None:
    server.app(app)
    own = {host for host, _ in routes.domains(server.ledger, app)}
    checked = list(dict.fromkeys(host_name(host) for host in hosts))
    missing = [host for host in checked if host not in own]
    if missing:
        raise UsageError(f"{missing[0]} is not a domain of {app} (see `gitdeploy domains -a "
                         f"{app}`)")
    _apply(server, lambda: routes.remove_domains(server.ledger, app, checked),
           lambda: routes.add_domains(server.ledger, app, checked))
    _wait(server, checked, routed=False)


def tls_changed(server: Server) -> None:
    """nginx loads the app's new certificate (the same paths: a reload even if no file of
    its config changed)."""
    with frontdoor.locked(server):
        frontdoor.refresh(server, force=True)


def show_settings(server: Server) -> dict[str, str]:
    return routes.settings(server.ledger)


def set_settings(server: Server, pairs: list[str], unset: list[str] | None = None) -> None:
    values: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals:
            raise UsageError(f"{pair[:40]!r} is not NAME=VALUE")
        values[name] = frontdoor.check_setting(name, value)
    for name in unset or []:
        if name not in frontdoor.SETTINGS:
            raise UsageError(f"unknown setting {name[:40]!r}; known: "
                             f"{', '.join(frontdoor.SETTINGS)}")
    if values.get("proxy") == "nginx" and nginx.binary() is None:
        raise UsageError("nginx is not installed: install it (gitdeploy setup does) before "
                         "turning the front door on")
    before = routes.settings(server.ledger)

    def undo() -> None:
        routes.change_settings(server.ledger, before,
                               [name for name in values if name not in before])

    _apply(server, lambda: routes.change_settings(server.ledger, values, unset or []), undo)

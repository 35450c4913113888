"""Domains (domains, domains:add, domains:remove) and the server's settings (settings,
settings:set, settings:unset): each change reaches nginx checked, or not at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from gitdeploy.errors import GitdeployError, UsageError
from gitdeploy.events import certs
from gitdeploy.model.names import host_name
from gitdeploy.proxy import frontdoor, nginx
from gitdeploy.store import routes
from gitdeploy.store.server import Server

T = TypeVar("T")


def app_domains(server: Server, app: str) -> list[tuple[str, str]]:
    """(host, "custom" or "default") for each host that reaches the app."""
    server.app(app)
    own = {host for host, _ in routes.domains(server.ledger, app)}
    return [(host, "custom" if host in own else "default")
            for host in frontdoor.hosts(server, app)]


def _apply(server: Server, change: Callable[[], object],
           undo: Callable[[], object]) -> str | None:
    """``change`` the ledger, then nginx; if nginx refuses, ``undo`` and raise. The new
    config's serial."""
    with frontdoor.locked(server):
        change()
        try:
            return frontdoor.refresh(server)
        except GitdeployError:
            undo()
            raise


def _claimable(server: Server, app: str, host: str) -> None:
    """Refuse a host that belongs to someone else by construction: the server's domain,
    another app's APP.DOMAIN (whether or not that app exists yet), the probe's names, or a
    wildcard over another app's host."""
    domain = routes.settings(server.ledger).get("domain")
    if domain and host in (domain, f"*.{domain}"):
        raise UsageError(f"{host} is the server's domain: every app has its own APP.{domain}")
    if domain and host.endswith(f".{domain}"):
        label = host.removesuffix(f".{domain}")
        if "." not in label and label != app:
            raise UsageError(f"{host} is the default domain of the app named {label}")
    if host.split(".", 1)[0] == "gitdeploy-probe":
        raise UsageError(f"{host}: names starting with gitdeploy-probe. are gitdeploy's own")
    if host.startswith("*."):
        for other in server.ledger.apps():
            covered = [h for h in frontdoor.hosts(server, other) if other != app
                       and h.endswith(host[1:]) and "." not in h.removesuffix(host[1:])]
            if covered:
                raise UsageError(f"{host} would cover {covered[0]}, a domain of {other}")


def add_domains(server: Server, app: str, hosts: list[str]) -> list[str]:
    """Route ``hosts`` to the app (once nginx serves them: reloads are asynchronous); the
    ones it did not have."""
    server.app(app)
    checked = list(dict.fromkeys(host_name(host) for host in hosts))
    for host in checked:
        _claimable(server, app, host)
    added: list[str] = []

    def change() -> None:
        added.extend(routes.add_domains(server.ledger, app, checked))

    serial = _apply(server, change, lambda: routes.remove_domains(server.ledger, app, added))
    _wait(server, checked, serial)
    return added


def _wait(server: Server, hosts: list[str], serial: str | None) -> None:
    if not frontdoor.wait_for_serial(server, hosts, serial):
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
    serial = _apply(server, lambda: routes.remove_domains(server.ledger, app, checked),
                    lambda: routes.add_domains(server.ledger, app, checked))
    _wait(server, checked, serial)


def change_tls(server: Server, app: str, change: Callable[[], T]) -> T:
    """Store or remove the app's certificate (``change``) and have nginx load it; if nginx
    refuses it, the app's previous pair is put back and nothing changed."""
    layout = server.layout
    with frontdoor.locked(server):
        try:
            before = (layout.tls_cert(app).read_bytes(), layout.tls_key(app).read_bytes())
        except OSError:
            before = None
        result = change()
        try:
            serial = frontdoor.refresh(server)
        except GitdeployError:
            if before is not None:
                certs.add_cert(server, app, *before, [])
            else:
                certs.remove_cert(server, app)
            frontdoor.refresh(server)
            raise
    _wait(server, frontdoor.hosts(server, app)[:1], serial)
    return result


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

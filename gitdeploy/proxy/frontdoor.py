"""The front door's state, from the ledger: is it on, on which ports, which hosts reach each
app, and its config made to match (checked, installed, reloaded) after any change."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from gitdeploy.appconfig.procfile import ProcfileError, parse_procfile
from gitdeploy.errors import UsageError
from gitdeploy.model.names import host_name
from gitdeploy.proxy import nginx
from gitdeploy.proxy.render import PROBE_PATH, Listen, Site
from gitdeploy.store import routes
from gitdeploy.store.fsops import read_regular_file
from gitdeploy.store.live import current_version
from gitdeploy.store.locks import FileLock
from gitdeploy.store.routes import WebRoute
from gitdeploy.store.server import Server

STEADY = 10  # probes in a row that must agree, 20 ms apart

SETTINGS = {
    "domain": "the server's domain: every app answers on APP.DOMAIN",
    "proxy": "nginx (the front door routes domains to apps) or off",
    "proxy.http_port": "the port nginx serves HTTP on (80)",
    "proxy.https_port": "the port nginx serves HTTPS on (443)",
    "proxy.address": "the address nginx listens on (all when empty)",
    "proxy.pidfile": "reload by signal: the pid file of an nginx the deploy user runs itself",
    "proxy.acme_root": "where certbot's webroot challenges are served from (/var/www/html)",
}


def check_setting(name: str, value: str) -> str:
    """The value to store, or UsageError: each setting reaches nginx's config or a signal,
    so each is checked for exactly what it may be."""
    if name not in SETTINGS:
        raise UsageError(f"unknown setting {name[:40]!r}; known: {', '.join(SETTINGS)}")
    if name == "domain" and value:
        host = host_name(value)
        if host.startswith("*."):
            raise UsageError("the server's domain is a name like example.com, not a wildcard")
        return host
    if name == "proxy" and value not in ("nginx", "off"):
        raise UsageError("proxy is nginx or off")
    if name.endswith("_port") and not (value.isascii() and value.isdigit()
                                       and 1 <= int(value) <= 65535):
        raise UsageError(f"{name} must be a port number (1-65535)")
    if name == "proxy.address" and value:
        try:
            address = ipaddress.ip_address(value.removeprefix("[").removesuffix("]"))
        except ValueError:
            raise UsageError("proxy.address is an IP address (127.0.0.1, [::1]) or empty for "
                             "all addresses") from None
        return f"[{address}]" if address.version == 6 else str(address)
    if name in ("proxy.pidfile", "proxy.acme_root") and value and (
            not value.startswith("/") or any(c in value for c in "\n\r\0;{}\"'$")):
        raise UsageError(f"{name} is an absolute path without quotes, ';', '{{', '}}' or '$'")
    return value


def enabled(server: Server) -> bool:
    return routes.settings(server.ledger).get("proxy") == "nginx"


def listen(server: Server) -> Listen:
    found = routes.settings(server.ledger)
    return Listen(http_port=int(found.get("proxy.http_port", 80)),
                  https_port=int(found.get("proxy.https_port", 443)),
                  address=found.get("proxy.address", ""),
                  acme_root=found.get("proxy.acme_root", "/var/www/html"))


def hosts(server: Server, app: str) -> list[str]:
    """The app's own domains, then APP.DOMAIN when the server has a domain."""
    found = [host for host, _ in routes.domains(server.ledger, app)]
    domain = routes.settings(server.ledger).get("domain")
    default = f"{app}.{domain}" if domain else None
    taken = default is not None and any(host == default for host, owner in
                                        routes.domains(server.ledger) if owner != app)
    return found + ([default] if default and default not in found and not taken else [])


def probe_host(server: Server, app: str) -> str | None:
    for host in hosts(server, app):
        return host.replace("*.", "gitdeploy-probe.", 1)
    return None


def in_place(server: Server, app: str) -> WebRoute | None:
    """Where the live release's web runs when it has no route (started before the app had a
    domain, or with a PORT config var): its own ports."""
    version = current_version(server, app)
    record = server.ledger.app(app)
    if version is None or record is None or record.port_base is None:
        return None
    data = read_regular_file(server.layout.release_dir(app, version), "Procfile")
    try:
        if data is None or "web" not in parse_procfile(data).processes:
            return None
    except ProcfileError:
        return None
    release = server.ledger.release(app, version)
    pinned = (release.config or {}).get("PORT", "") if release is not None else ""
    port = int(pinned) if pinned.isascii() and pinned.isdigit() and 0 < int(pinned) < 65000 \
        else record.port_base
    return WebRoute(version, port, record.formation.get("web", 1))


def site(server: Server, app: str, route: WebRoute | None) -> Site:
    cert, key = server.layout.tls_cert(app), server.layout.tls_key(app)
    has_tls = cert.is_file() and key.is_file()
    route = route or in_place(server, app)
    return Site(app, tuple(hosts(server, app)),
                tuple(range(route.port, route.port + route.count)) if route else (),
                f"v{route.release}" if route else "none",
                str(cert) if has_tls else None, str(key) if has_tls else None)


@contextmanager
def locked(server: Server) -> Iterator[None]:
    """One change of the front door at a time (a release switching, a domain added)."""
    lock = FileLock(server.layout.state_dir / "frontdoor.lock")
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def refresh(server: Server,
            change: Mapping[str, WebRoute | None] | None = None) -> str | None:
    """Make nginx's config match the ledger (with ``change``'s routes instead of the
    recorded ones): check it, install it, reload. Returns the new config's serial (what the
    probe answers once nginx loaded it); None with the front door off. Raises GitdeployError
    if nginx refuses it: then nothing changed."""
    if not enabled(server):
        return None
    change = change or {}
    sites = []
    for app in server.ledger.apps():
        route = change[app] if app in change else routes.web_route(server.ledger, app)
        found = site(server, app, route)
        if found.hosts:
            sites.append(found)
    where, on = server.layout.nginx_dir, listen(server)
    serial = f"{time.time_ns():x}"
    nginx.check(sites, on, where, serial)
    nginx.install(sites, on, where, serial)
    nginx.reload(where, routes.settings(server.ledger).get("proxy.pidfile"))
    return serial


def _answer(on: Listen, host: str) -> tuple[int, str, str]:
    """The probe through nginx for ``host``: (status, release, serial)."""
    status, body = nginx.probe(on, host.replace("*.", "gitdeploy-probe.", 1), PROBE_PATH)
    release, _, serial = body.strip().partition(" ")
    return status, release, serial


def _steady(on: Listen, host: str, good: Callable[[int, str, str], bool]) -> bool:
    """The same kind of answer for STEADY probes in a row: for a moment after a reload,
    nginx's old workers still accept connections beside the new ones."""
    for _ in range(STEADY):
        time.sleep(0.02)
        if not good(*_answer(on, host)):
            return False
    return True


def wait_for_release(server: Server, app: str, release: str, serial: str | None,
                     path: str | None, timeout: float = 15) -> str | None:
    """Until nginx has loaded config ``serial`` and routes ``app`` to ``release``, and its
    web answers through it (below 500; 2xx/3xx with a healthcheck path): None, or what
    went wrong."""
    host = probe_host(server, app)
    if host is None or serial is None:
        return f"{app} has no domain: nothing routes to it"
    on = listen(server)
    deadline = time.monotonic() + timeout
    last = "no answer"

    def good(status: int, answered: str, loaded: str) -> bool:
        return status == 200 and answered == release and loaded == serial

    while time.monotonic() < deadline:
        status, answered, loaded = _answer(on, host)
        if good(status, answered, loaded) and _steady(on, host, good):
            status, body = nginx.probe(on, host, path or "/", timeout=5)
            if 0 < status < (400 if path else 500):
                return None
            last = f"GET {path or '/'} through nginx: {status or body}"
        elif loaded != serial:
            last = "nginx has not loaded the new config"
        else:
            last = f"nginx answered {status} for {answered or '?'}"
        time.sleep(0.05)
    return f"the front door did not switch to {release} within {timeout:g} s ({last})"


def wait_for_serial(server: Server, hosts: list[str], serial: str | None,
                    timeout: float = 10) -> bool:
    """Until nginx answers the probe for every host with config ``serial``: the reload took
    effect. False if it did not within ``timeout``; True with the front door off."""
    if serial is None:
        return True
    on = listen(server)
    deadline = time.monotonic() + timeout

    def good(status: int, release: str, loaded: str) -> bool:
        return loaded == serial

    for host in hosts:
        while not (good(*_answer(on, host)) and _steady(on, host, good)):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
    return True

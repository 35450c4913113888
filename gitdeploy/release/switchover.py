"""Zero-downtime web switches behind the front door: the new release's web instances start
on the app's other half of ports while the live ones serve; they pass the web check; nginx's
upstream is switched to them and the switch confirmed through nginx; only then do the old
instances stop, gracefully (SIGTERM; in-flight requests finish; SIGKILL after the stop
timeout). Other process types stop, then start: no two releases' workers run at once.

If the new instances fail, the live ones were never touched: nothing to revert.
"""

from __future__ import annotations

import time

from gitdeploy.appconfig.settings import HealthcheckSettings
from gitdeploy.errors import GitdeployError
from gitdeploy.model.release import now
from gitdeploy.processes import units
from gitdeploy.processes.apply import apply, live_procfile, remove, start_beside, web_processes
from gitdeploy.processes.control import last_lines, log_mark
from gitdeploy.processes.ports import port_base
from gitdeploy.processes.systemd import Systemd
from gitdeploy.processes.webcheck import check_web
from gitdeploy.proxy import frontdoor
from gitdeploy.store import routes
from gitdeploy.store.releaselog import ReleaseLog
from gitdeploy.store.routes import WebRoute
from gitdeploy.store.server import Server

HALF = units.PORT_BLOCK // 2  # web instances of one release use one half of the app's ports


def route_for(server: Server, app: str, version: int) -> WebRoute | None:
    """The route vN's web takes behind the front door; None if its web runs in place (no
    front door, no domain, no web type, or a PORT config var that pins the port)."""
    if not frontdoor.enabled(server) or not frontdoor.hosts(server, app):
        return None
    if "web" not in live_procfile(server, app, version).processes:
        return None
    release = server.ledger.release(app, version)
    if units.web_port(release.config or {} if release else {}, -1) != -1:
        return None
    count = server.app(app).formation.get("web", units.DEFAULT_SCALE)
    if count < 1:
        return None
    base = port_base(server, app)
    old = routes.web_route(server.ledger, app)
    return WebRoute(version, base if old is not None and old.port != base else base + HALF,
                    count)


def switch(server: Server, systemd: Systemd, app: str, new: WebRoute,
           healthcheck: HealthcheckSettings, log: ReleaseLog) -> str | None:
    """Bring ``new`` in, then the rest of its release's processes: None, or why not (then
    the live web instances and the front door are as they were)."""
    old = routes.web_route(server.ledger, app)
    fresh = web_processes(server, app, new)
    mark = log_mark(server, systemd, app)
    try:
        start_beside(server, systemd, app, fresh)
    except GitdeployError as exc:
        return _abandon(systemd, app, fresh, log, f"starting the web instances failed: {exc}")
    ports = ", ".join(str(p.port) for p in fresh)
    log.header(f"Started {', '.join(p.name for p in fresh)} of v{new.release} on port "
               f"{ports}, beside the live ones")
    checked = check_web(systemd, app, fresh, healthcheck)
    if checked is not None:
        process, why = checked
        log.warn(why)
        log.warn(f"last lines of {process.name}:")
        for line in last_lines(server, systemd, app, process.name, mark):
            log.line(line)
        return _abandon(systemd, app, fresh, log, why, told=True)
    started = time.monotonic()
    with frontdoor.locked(server):
        # the route is recorded first: a worker that dies from here on leaves a ledger that
        # names the instances nginx may route to, and recovery switches back from them
        routes.set_web_route(server.ledger, app, new)
        try:
            serial = frontdoor.refresh(server)
            problem = frontdoor.wait_for_release(server, app, f"v{new.release}", serial,
                                                 healthcheck.path)
        except GitdeployError as exc:
            problem = exc.message
        if problem is not None:
            routes.set_web_route(server.ledger, app, old)
            try:
                frontdoor.refresh(server)
            except GitdeployError as exc:  # nginx may still route to them: keep them
                log.warn(f"putting the front door back failed: {exc.message}")
                return problem
            return _abandon(systemd, app, fresh, log, problem)
    server.ledger.update(app, new.release, switched_at=now())
    log.header(f"Switched {', '.join(frontdoor.hosts(server, app))} to v{new.release} in "
               f"{(time.monotonic() - started) * 1000:.0f} ms (checked, then served by nginx)")
    try:
        running = apply(server, systemd, app, new.release, web=new)
    except GitdeployError as exc:
        failed = f"starting the other processes failed: {exc}"
        log.warn(failed)
        return failed
    others = [p.name for p in running if p.release is None]
    log.header("Stopped the previous web instances" + (f"; restarted {', '.join(others)}"
                                                        if others else ""))
    return None


def _abandon(systemd: Systemd, app: str, fresh: list[units.Process], log: ReleaseLog,
             why: str, told: bool = False) -> str:
    if not told:
        log.warn(why)
    remove(systemd, app, fresh)
    log.header("Stopped the new web instances: the live ones were not touched")
    return why


def leave(server: Server, app: str, log: ReleaseLog) -> None:
    """The app's web runs in place from now on: no route; nginx to its own ports."""
    if routes.web_route(server.ledger, app) is not None:
        routes.set_web_route(server.ledger, app, None)
        follow_in_place(server, log)


def discard(systemd: Systemd, app: str, version: int) -> None:
    """Stop and remove any web instance bound to vN that is not routed to (a worker that
    died between starting them and the switch)."""
    suffix = f".v{version}.service"
    remove_names = [n for n in systemd.installed(units.unit_prefix(app)) if n.endswith(suffix)]
    systemd.remove(remove_names)


def follow_in_place(server: Server, log: ReleaseLog) -> None:
    """A web restarted in place (a PORT config var pins its port): the front door's upstream
    follows it, if the app has a domain."""
    try:
        with frontdoor.locked(server):
            frontdoor.refresh(server)
    except GitdeployError as exc:
        log.warn(f"the front door was not updated: {exc.message}")

"""Making systemd run what a release says: units rendered from the Procfile and the app's
scale, written if they changed, restarted; and removed when the app goes."""

from __future__ import annotations

import dataclasses
import pwd
from pathlib import Path

from gitdeploy.appconfig.procfile import Procfile, parse_procfile
from gitdeploy.appconfig.settings import FILENAME, SettingsError, parse_settings
from gitdeploy.errors import GitdeployError
from gitdeploy.processes import units
from gitdeploy.processes.ports import port_base
from gitdeploy.processes.systemd import Systemd
from gitdeploy.resources import unit_template
from gitdeploy.sandbox import check
from gitdeploy.sandbox.bwrap import Sandbox
from gitdeploy.store.fsops import private_dir, read_regular_file
from gitdeploy.store.routes import WebRoute
from gitdeploy.store.server import Server

NO_MANAGER = ("web processes were not started: no systemd user manager is reachable "
              "(see README, 'Processes'; GITDEPLOY_SYSTEMD=off turns processes off)")


def manager() -> Systemd | None:
    return Systemd.from_environment()


def require_manager() -> Systemd:
    systemd = manager()
    if systemd is None:
        raise GitdeployError(NO_MANAGER.replace("web processes were not started: ", ""))
    return systemd


def live_procfile(server: Server, app: str, version: int) -> Procfile:
    directory = server.layout.release_dir(app, version)
    data = read_regular_file(directory, "Procfile")
    return parse_procfile(data) if data is not None else Procfile()


def plan(server: Server, app: str, version: int,
         web: WebRoute | None = None) -> list[units.Process]:
    """What should run for release vN: its Procfile's types at the app's scale; with a
    front door route, its web instances are those of the route's release, on its ports."""
    release = server.ledger.release(app, version)
    config = release.config or {} if release is not None else {}
    port = units.web_port(config, port_base(server, app))
    found = units.processes(live_procfile(server, app, version).processes,
                            server.app(app).formation, port)
    overlap = overlapping(server, app, version)
    found = [dataclasses.replace(p, release=version) if p.type in overlap else p
             for p in found]
    if web is None:
        return found
    return [*web_processes(server, app, web), *(p for p in found if p.type != "web")]


def overlapping(server: Server, app: str, version: int) -> set[str]:
    """The types vN's gitdeploy.yml asks to overlap (``processes.overlap``): bound to their
    release, so the new instances start before the old ones stop. Not web: behind the
    front door it always overlaps; without it, it keeps its port."""
    data = read_regular_file(server.layout.release_dir(app, version), FILENAME)
    try:
        return set(parse_settings(data).processes.overlap) - {"web"}
    except SettingsError:
        return set()


def web_processes(server: Server, app: str, web: WebRoute) -> list[units.Process]:
    """The web instances of a front door route: its release's web command, its ports."""
    command = live_procfile(server, app, web.release).processes.get("web")
    if command is None:
        return []
    return [units.Process("web", n, command, web.port + n - 1, release=web.release)
            for n in range(1, web.count + 1)]


def log_dir(server: Server, app: str) -> Path:
    return server.layout.logs_dir(app) / "ps"


def process_sandbox(server: Server, app: str) -> Sandbox | None:
    """The sandbox the app's processes run in: the live release (``current``, resolved when
    a process starts) at /app; None in the shared-trust mode. Fails closed."""
    if not check.enabled():
        return None
    problem = check.problem()
    if problem is not None:
        raise GitdeployError(problem)
    data = private_dir(server.layout.data_dir(app))
    return Sandbox(files=server.layout.current(app), data=data)


def unit_user(server: Server, systemd: Systemd) -> str | None:
    """Under the system manager, app processes run as the owner of the server root, never
    as root; user units run as their manager's user."""
    if systemd.scope != "system":
        return None
    owner = server.root.stat().st_uid
    if owner == 0:
        raise GitdeployError(
            f"app processes never run as root: system units run them as the owner of "
            f"{server.root}, which is root; give it to the deploy user "
            f"(chown -R DEPLOY_USER {server.root}) or use user units")
    try:
        return pwd.getpwuid(owner).pw_name
    except KeyError:
        return str(owner)


def services(server: Server, systemd: Systemd, app: str,
             wanted: list[units.Process]) -> list[units.UnitFile]:
    """Service units: those of ``current`` run the live release; those bound to a release
    run its own directory and env file."""
    target_dir = None if systemd.journald() else log_dir(server, app)
    if target_dir is not None:
        target_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    layout, found = server.layout, []
    for release in dict.fromkeys(p.release for p in wanted):
        files = layout.current(app) if release is None else layout.release_dir(app, release)
        box = process_sandbox(server, app)
        found += units.services(
            app, [p for p in wanted if p.release == release], workdir=files,
            env_file=layout.current_env(app) if release is None else
            layout.env_file(app, release),
            log_dir=target_dir, service_template=unit_template("process.service.in"),
            sandbox=Sandbox(files=files, data=box.data) if box is not None else None,
            user=unit_user(server, systemd))
    return found


def render(server: Server, systemd: Systemd, app: str,
           wanted: list[units.Process]) -> list[units.UnitFile]:
    found = services(server, systemd, app, wanted)
    return [*found, units.target(app, [unit.name for unit in found],
                                 unit_template("app.target.in"))]


def start_beside(server: Server, systemd: Systemd, app: str,
                 wanted: list[units.Process]) -> None:
    """Start ``wanted`` next to what runs (the front door's new web instances): their unit
    files written, nothing else touched."""
    systemd.add(services(server, systemd, app, wanted))
    names = [units.service_name(app, p) for p in wanted]
    systemd.systemctl("reset-failed", *names, check=False)
    systemd.systemctl("start", *names)


def remove(systemd: Systemd, app: str, wanted: list[units.Process]) -> None:
    """Stop ``wanted`` and remove their unit files (new instances that failed their check)."""
    systemd.remove([units.service_name(app, p) for p in wanted])


def apply(server: Server, systemd: Systemd, app: str, version: int,
          restart: bool = True, web: WebRoute | None = None) -> list[units.Process]:
    """Run release vN's processes: units rewritten if they changed, removed types stopped,
    the rest restarted (``restart``) or only started if not running (scaling). Web instances
    bound to a front door route (``web``) are only started: they were checked already."""
    wanted = plan(server, app, version, web)
    early = [p for p in wanted if p.release is not None and p.type != "web"]
    if restart and early:  # overlapping types: the new instances first, then sync stops
        start_beside(server, systemd, app, early)  # the old ones
    systemd.sync(units.unit_prefix(app), render(server, systemd, app, wanted))
    target = units.target_name(app)
    again = [units.service_name(app, p) for p in wanted if p.release is None]
    bound = [units.service_name(app, p) for p in wanted if p.release is not None]
    systemd.systemctl("enable", target)
    if again and restart:
        # a unit crash-looping (auto-restart, or failed at its start limit) would keep its
        # restart count and refuse to start: a new release starts from a clean slate
        systemd.systemctl("reset-failed", *again, check=False)
        systemd.systemctl("restart", *again)
    if (again and not restart) or bound:
        systemd.systemctl("start", *(bound if restart else again + bound))
    systemd.systemctl("start", target)
    return wanted


def stop_all(server: Server, systemd: Systemd, app: str) -> None:
    """Stop the app's processes and remove its units (destroy, or no release is live)."""
    prefix = units.unit_prefix(app)
    if systemd.installed(prefix):
        systemd.systemctl("disable", units.target_name(app), check=False)
        systemd.sync(prefix, [])


def remove_app(server: Server, app: str) -> None:
    systemd = manager()
    if systemd is not None:
        stop_all(server, systemd, app)

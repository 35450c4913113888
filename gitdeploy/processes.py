"""An app's long-running processes under systemd: after releases, ps, scale, restart, logs."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gitdeploy import apps, units
from gitdeploy.errors import GitdeployError, UsageError
from gitdeploy.fsops import read_regular_file
from gitdeploy.locks import FileLock
from gitdeploy.procfile import PROCESS_TYPE, Procfile, parse_procfile
from gitdeploy.resources import unit_template
from gitdeploy.server import Server
from gitdeploy.settings import HealthcheckSettings
from gitdeploy.systemd import Systemd

PORT_START = 5000
NO_MANAGER = ("web processes were not started: no systemd user manager is reachable "
              "(see README, 'Processes'; GITDEPLOY_SYSTEMD=off silences this)")


def manager() -> Systemd | None:
    return Systemd.from_environment()


def _ports_free(base: int) -> bool:
    """Nothing bound to the block's first ports. SO_REUSEADDR, as web servers set it: a port
    whose old connections linger in TIME_WAIT is free for them, so it is free for us."""
    for port in (base, base + 1):
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


def live_procfile(server: Server, app: str, version: int) -> Procfile:
    directory = server.layout.release_dir(app, version)
    data = read_regular_file(directory, "Procfile")
    return parse_procfile(data) if data is not None else Procfile()


def plan(server: Server, app: str, version: int) -> list[units.Process]:
    """What should run for release vN: its Procfile's types at the app's scale."""
    release = server.ledger.release(app, version)
    config = release.config or {} if release is not None else {}
    port = units.web_port(config, port_base(server, app))
    return units.processes(live_procfile(server, app, version).processes,
                           server.app(app).formation, port)


def log_dir(server: Server, app: str) -> Path:
    return server.layout.logs_dir(app) / "ps"


def render(server: Server, systemd: Systemd, app: str,
           wanted: list[units.Process]) -> list[units.UnitFile]:
    target_dir = None if systemd.journald() else log_dir(server, app)
    if target_dir is not None:
        target_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return units.render(
        app, wanted, workdir=server.layout.current(app), env_file=server.layout.current_env(app),
        log_dir=target_dir, service_template=unit_template("process.service.in"),
        target_template=unit_template("app.target.in"),
    )


def apply(server: Server, systemd: Systemd, app: str, version: int,
          restart: bool = True) -> list[units.Process]:
    """Run release vN's processes: units rewritten if they changed, removed types stopped,
    the rest restarted (``restart``) or only started if not running (scaling)."""
    wanted = plan(server, app, version)
    systemd.sync(units.unit_prefix(app), render(server, systemd, app, wanted))
    target = units.target_name(app)
    services = [units.service_name(app, p) for p in wanted]
    systemd.systemctl("enable", target)
    if services:
        systemd.systemctl("restart" if restart else "start", *services)
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


def _answers(port: int, path: str | None) -> bool:
    import http.client  # ~20 ms: only web checks with a path need it

    try:
        if path is None:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", path, headers={"User-Agent": "gitdeploy-healthcheck"})
            return 200 <= connection.getresponse().status < 400
        finally:
            connection.close()
    except (OSError, http.client.HTTPException):
        return False


def check_web(systemd: Systemd, app: str, running: list[units.Process],
              settings: HealthcheckSettings) -> tuple[units.Process, str] | None:
    """Each web instance must answer within the timeout: None, or (process, why not)."""
    pending = [p for p in running if p.type == "web" and p.port is not None]
    deadline = time.monotonic() + settings.timeout
    while pending:
        states = systemd.properties([units.service_name(app, p) for p in pending],
                                    "ActiveState", "NRestarts")
        for process in list(pending):
            state = states.get(units.service_name(app, process), {})
            if state.get("ActiveState") in ("failed", "inactive") or \
                    int(state.get("NRestarts") or 0) >= 2:
                return process, (f"{process.name} exited instead of serving "
                                 f"(state {state.get('ActiveState')}, "
                                 f"{state.get('NRestarts', '0')} restarts)")
            assert process.port is not None
            if _answers(process.port, settings.path):
                pending.remove(process)
        if pending and time.monotonic() > deadline:
            process = pending[0]
            what = f"GET {settings.path} with 2xx/3xx" if settings.path else "a TCP connection"
            return process, (f"{process.name} did not answer {what} on port {process.port} "
                             f"within {settings.timeout:g} s")
        if pending:
            time.sleep(0.2)
    return None


def tail(server: Server, systemd: Systemd, app: str, process: str, lines: int) -> list[str]:
    """The last lines a process printed (its log file, or the journal)."""
    if systemd.journald():
        done = systemd.systemctl("status", "--no-pager", "-n", str(lines),
                                 f"gitdeploy-{app}.{process}.service", check=False)
        return done.stdout.splitlines()[-lines:]
    return tail_file(log_dir(server, app) / f"{process}.log", lines)


def tail_file(path: Path, lines: int) -> list[str]:
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 256 * lines - 4096))
            text = handle.read().decode(errors="replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:]


# --- commands ------------------------------------------------------------------------------


def require_manager() -> Systemd:
    systemd = manager()
    if systemd is None:
        raise GitdeployError(NO_MANAGER.replace("web processes were not started: ", ""))
    return systemd


@dataclass(frozen=True)
class ProcessState:
    name: str
    state: str
    pid: int | None
    uptime: float | None
    port: int | None


def status(server: Server, app: str) -> list[ProcessState]:
    systemd = require_manager()
    version = apps.current_version(server, app)
    wanted = plan(server, app, version) if version is not None else []
    names = [units.service_name(app, p) for p in wanted]
    found = systemd.properties(names, "ActiveState", "SubState", "MainPID",
                               "ExecMainStartTimestampMonotonic")
    now_us = time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6
    result = []
    for process, name in zip(wanted, names, strict=True):
        info = found.get(name, {})
        pid = int(info.get("MainPID") or 0) or None
        started = int(info.get("ExecMainStartTimestampMonotonic") or 0)
        state = f"{info.get('ActiveState', 'unknown')} ({info.get('SubState', '?')})"
        result.append(ProcessState(process.name, state, pid,
                                   (now_us - started) / 1e6 if pid and started else None,
                                   process.port))
    return result


def _with_app_lock(server: Server, app: str, action: Callable[[], None]) -> None:
    lock = FileLock(server.layout.app_lock(app))
    if not lock.acquire(timeout=2):
        print(f"Waiting for {lock.holder() or 'a release'} to finish...", flush=True)
        lock.acquire()
    try:
        action()
    finally:
        lock.release()


def parse_scale(args: list[str]) -> dict[str, int]:
    scale: dict[str, int] = {}
    for arg in args:
        kind, eq, count = arg.partition("=")
        if not eq or not PROCESS_TYPE.fullmatch(kind) or not count.isdigit():
            raise UsageError(f"expected TYPE=N (e.g. web=2), got {arg[:40]!r}")
        if int(count) > units.MAX_SCALE:
            raise UsageError(f"{kind}={count}: at most {units.MAX_SCALE} instances per type")
        scale[kind] = int(count)
    if not scale:
        raise UsageError("nothing to scale: give TYPE=N")
    return scale


def scale(server: Server, app: str, changes: dict[str, int]) -> None:
    version = apps.current_version(server, app)
    if version is not None:
        known = live_procfile(server, app, version).processes
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise UsageError(f"no process type {', '.join(unknown)} in the live Procfile "
                             f"(it has: {', '.join(known) or 'none'})")

    def change() -> None:
        server.ledger.set_formation(app, {**server.app(app).formation, **changes})
        systemd = manager()
        if version is not None and systemd is not None:
            apply(server, systemd, app, version, restart=False)

    _with_app_lock(server, app, change)


def restart(server: Server, app: str, kind: str | None) -> list[str]:
    systemd = require_manager()
    version = apps.current_version(server, app)
    if version is None:
        raise UsageError(f"{app} has no live release")
    wanted = plan(server, app, version)
    chosen = [p for p in wanted if kind is None or p.type == kind]
    if kind is not None and not chosen:
        raise UsageError(f"no running process type {kind!r}")
    names = [units.service_name(app, p) for p in chosen]

    def restart_them() -> None:
        systemd.systemctl("restart", *names)

    _with_app_lock(server, app, restart_them)
    return [p.name for p in chosen]


def logs(server: Server, app: str, lines: int, follow: bool,
         write: Callable[[str], None]) -> None:
    """The processes' output: the last ``lines`` of each, then (``follow``) what comes next."""
    systemd = manager()
    if systemd is not None and systemd.journald():
        ids = [arg for p in plan(server, app, apps.current_version(server, app) or 0)
               for arg in ("-t", f"gitdeploy-{app}.{p.name}")]
        argv = ["journalctl", "--user" if systemd.scope == "user" else "--system",
                "-o", "short-iso", "-n", str(lines), *(["-f"] if follow else []), *ids]
        os.execvp(argv[0], argv)
    directory = log_dir(server, app)
    offsets: dict[Path, int] = {}
    for path in sorted(directory.glob("*.log")) if directory.is_dir() else []:
        offsets[path] = path.stat().st_size
        for line in tail_file(path, lines):
            write(f"[{path.stem}] {line}")
    while follow:
        time.sleep(0.25)
        for path in sorted(directory.glob("*.log")):
            start = offsets.get(path, 0)
            size = path.stat().st_size
            if size > start:
                with path.open("rb") as handle:
                    handle.seek(start)
                    chunk = handle.read(size - start)
                complete = chunk[: chunk.rfind(b"\n") + 1]
                offsets[path] = start + len(complete)
                for line in complete.decode(errors="replace").splitlines():
                    write(f"[{path.stem}] {line}")

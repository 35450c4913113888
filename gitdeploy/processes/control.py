"""The process commands: ps, scale, restart, logs. ``say`` is where progress goes (the
caller's terminal); nothing here prints."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gitdeploy.appconfig.procfile import PROCESS_TYPE
from gitdeploy.errors import UsageError
from gitdeploy.processes import units
from gitdeploy.processes.apply import apply, live_procfile, log_dir, manager, plan, require_manager
from gitdeploy.processes.systemd import Systemd
from gitdeploy.store import routes
from gitdeploy.store.live import current_version
from gitdeploy.store.locks import FileLock
from gitdeploy.store.routes import WebRoute
from gitdeploy.store.server import Server


@dataclass(frozen=True)
class LogMark:
    """Where an app's process logs stood before a restart: what follows is the new run's."""
    sizes: dict[str, int]  # log file name -> bytes
    since: float  # wall clock, for the journal


def log_mark(server: Server, systemd: Systemd, app: str) -> LogMark:
    directory = log_dir(server, app)
    sizes = {} if systemd.journald() or not directory.is_dir() else {
        path.name: path.stat().st_size for path in directory.glob("*.log")}
    return LogMark(sizes, time.time())


def tail(server: Server, systemd: Systemd, app: str, process: str, lines: int,
         after: LogMark | None = None) -> list[str]:
    """The last lines a process printed (its log file, or the journal); with ``after``,
    only lines printed since that mark."""
    if systemd.journald():
        since = ["--since", f"@{int(after.since)}"] if after is not None else []
        done = systemd.journal("-t", f"gitdeploy-{app}.{process}", "-n", str(lines),
                               "-o", "cat", *since)
        return done.stdout.splitlines()[-lines:]
    name = f"{process}.log"
    start = after.sizes.get(name, 0) if after is not None else 0
    return tail_file(log_dir(server, app) / name, lines, start)


_ERROR = re.compile(r"[A-Za-z_][\w.]*(Error|Exception)(: .*)?")


def last_lines(server: Server, systemd: Systemd, app: str, process: str,
               after: LogMark) -> list[str]:
    """What a failed instance printed in this run: its last 15 lines, after the first error
    line of the run (``RuntimeError: ...``) when that is further up: a server's own
    shutdown traceback (gunicorn's HaltServer) often hides the app's."""
    found = tail(server, systemd, app, process, 300, after)
    last = found[-15:]
    first = next((line for line in found if _ERROR.fullmatch(line.strip())), None)
    if first is not None and first not in last:
        return [f"first error: {first.strip()}", "...", *last]
    return last


def tail_file(path: Path, lines: int, start: int = 0) -> list[str]:
    """The last ``lines`` of a file, from byte ``start`` on (unless it shrank since)."""
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            start = start if start <= size else 0
            handle.seek(max(start, size - 256 * lines - 4096))
            text = handle.read().decode(errors="replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:]


@dataclass(frozen=True)
class ProcessState:
    name: str
    state: str
    pid: int | None
    uptime: float | None
    port: int | None
    release: int | None  # the release it runs


def status(server: Server, app: str) -> list[ProcessState]:
    systemd = require_manager()
    version = current_version(server, app)
    route = routes.web_route(server.ledger, app)
    wanted = plan(server, app, version, route) if version is not None else []
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
                                   process.port, process.release or version))
    return result


def _with_app_lock(server: Server, app: str, action: Callable[[], None],
                   say: Callable[[str], None]) -> None:
    lock = FileLock(server.layout.app_lock(app))
    if not lock.acquire(timeout=2):
        say(f"Waiting for {lock.holder() or 'a release'} to finish...")
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


def scale(server: Server, app: str, changes: dict[str, int],
          say: Callable[[str], None]) -> bool:
    """Set the app's scale; True if its front door route changed (nginx's upstream must
    follow)."""
    rerouted = False

    def change() -> None:
        nonlocal rerouted
        # under the app lock: a release going live meanwhile must not be scaled (or have
        # its new types' units removed) from the Procfile of the one before it
        version = current_version(server, app)
        if version is not None:
            known = live_procfile(server, app, version).processes
            unknown = sorted(set(changes) - set(known))
            if unknown:
                raise UsageError(f"no process type {', '.join(unknown)} in the live Procfile "
                                 f"(it has: {', '.join(known) or 'none'})")
        server.ledger.set_formation(app, {**server.app(app).formation, **changes})
        systemd = manager()
        route = routes.web_route(server.ledger, app)
        if route is not None and "web" in changes:
            route = WebRoute(route.release, route.port, changes["web"])
            routes.set_web_route(server.ledger, app, route)
            rerouted = True
        if version is not None and systemd is not None:
            apply(server, systemd, app, version, restart=False, web=route)

    _with_app_lock(server, app, change, say)
    return rerouted


def restart(server: Server, app: str, kind: str | None,
            say: Callable[[str], None]) -> list[str]:
    systemd = require_manager()
    version = current_version(server, app)
    if version is None:
        raise UsageError(f"{app} has no live release")
    wanted = plan(server, app, version, routes.web_route(server.ledger, app))
    chosen = [p for p in wanted if kind is None or p.type == kind]
    if kind is not None and not chosen:
        raise UsageError(f"no running process type {kind!r}")
    names = [units.service_name(app, p) for p in chosen]

    def restart_them() -> None:
        systemd.systemctl("reset-failed", *names, check=False)  # out of a crash loop too
        systemd.systemctl("restart", *names)

    _with_app_lock(server, app, restart_them, say)
    return [p.name for p in chosen]


def logs(server: Server, app: str, lines: int, follow: bool,
         write: Callable[[str], None]) -> None:
    """The processes' output: the last ``lines`` of each, then (``follow``) what comes next."""
    systemd = manager()
    if systemd is not None and systemd.journald():
        ids = [arg for p in plan(server, app, current_version(server, app) or 0)
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

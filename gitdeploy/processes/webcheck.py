"""The web check: every new web instance must answer HTTP, then stay up for the settle
window, before a release counts as live.

An HTTP answer, not a TCP connection: gunicorn's master binds the port before its workers
import the app, so a port that accepts proves nothing about an app that fails at import.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gitdeploy.appconfig.settings import HealthcheckSettings
from gitdeploy.processes import units
from gitdeploy.processes.systemd import Systemd

POLL = 0.2
RESTARTS_ALLOWED = 1  # while it comes up; none after it answered


def probe(port: int, path: str | None) -> tuple[bool, str]:
    """One request: (good enough, what came back). Without a path, ``GET /`` with any answer
    below 500 is enough (a 404 or a login redirect still proves the app runs); with one, 2xx/3xx."""
    import http.client  # ~20 ms

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path or "/", headers={"User-Agent": "gitdeploy-healthcheck"})
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return False, str(exc) or exc.__class__.__name__
    finally:
        connection.close()
    good = 200 <= status < 400 if path is not None else status < 500
    return good, f"HTTP {status}"


@dataclass
class _Watch:
    process: units.Process
    baseline: int  # NRestarts when the check began: earlier runs' restarts do not count
    answered: float | None = None
    restarts_then: int = 0
    pid_then: str = ""
    last: str = "no answer yet"


def _restarts(state: dict[str, str]) -> int:
    value = state.get("NRestarts") or "0"
    return int(value) if value.isdigit() else 0


def check_web(systemd: Systemd, app: str, running: list[units.Process],
              settings: HealthcheckSettings) -> tuple[units.Process, str] | None:
    """Each web instance must answer within the timeout, then stay up (same process, no
    restart) for ``settings.settle`` seconds: None, or (process, why not)."""
    watched = [p for p in running if p.type == "web" and p.port is not None]
    if not watched:
        return None
    names = {p: units.service_name(app, p) for p in watched}
    first = systemd.properties(list(names.values()), "NRestarts")
    pending = [_Watch(p, _restarts(first.get(names[p], {}))) for p in watched]
    deadline = time.monotonic() + settings.timeout
    what = f"GET {settings.path} with 2xx/3xx" if settings.path else \
        "GET / with an HTTP response below 500"
    while pending:
        states = systemd.properties([names[w.process] for w in pending],
                                    "ActiveState", "SubState", "NRestarts", "MainPID")
        for watch in list(pending):
            process = watch.process
            state = states.get(names[process], {})
            active, restarts = state.get("ActiveState"), _restarts(state) - watch.baseline
            if watch.answered is not None:
                if active != "active" or restarts != watch.restarts_then or \
                        state.get("MainPID") != watch.pid_then:
                    return process, (f"{process.name} answered, then did not stay up for "
                                     f"{settings.settle:g} s (state {active} "
                                     f"({state.get('SubState')}), {restarts} restarts)")
                if time.monotonic() - watch.answered >= settings.settle:
                    pending.remove(watch)
                continue
            if active in ("failed", "inactive") or restarts > RESTARTS_ALLOWED:
                return process, (f"{process.name} exited instead of serving "
                                 f"(state {active}, {restarts} restarts)")
            assert process.port is not None
            good, watch.last = probe(process.port, settings.path)
            if good:
                watch.answered, watch.restarts_then = time.monotonic(), restarts
                watch.pid_then = state.get("MainPID", "")
                if settings.settle <= 0:
                    pending.remove(watch)
        waiting = [w for w in pending if w.answered is None]
        if waiting and time.monotonic() > deadline:
            watch = waiting[0]
            return watch.process, (f"{watch.process.name} did not answer {what} on port "
                                   f"{watch.process.port} within {settings.timeout:g} s "
                                   f"(last: {watch.last})")
        if pending:
            time.sleep(POLL)
    return None

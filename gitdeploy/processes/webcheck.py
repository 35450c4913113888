"""The web check: every new web instance must answer before a release counts as live."""

from __future__ import annotations

import socket
import time

from gitdeploy.appconfig.settings import HealthcheckSettings
from gitdeploy.processes import units
from gitdeploy.processes.systemd import Systemd


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

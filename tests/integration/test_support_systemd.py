"""Smoke test of tests.support.systemd_user: a real `systemd --user` running a real service."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.support.systemd_user import UserManager, start_user_manager

USER = "gdsdtest"
UNIT = "gd-smoke-http.service"


@dataclass
class Smoke:
    manager: UserManager
    port: int
    unit_path: str
    log_path: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http_status(port: int) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def wait_for(what: str, check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def main_pid(manager: UserManager) -> int:
    return int(manager.systemctl("show", "-p", "MainPID", "--value", UNIT).stdout)


@pytest.fixture(scope="module")
def smoke() -> Iterator[Smoke]:
    manager = start_user_manager(USER)
    try:
        port, unit_dir = free_port(), f"{manager.home}/.config/systemd/user"
        smoke = Smoke(manager, port, f"{unit_dir}/{UNIT}", f"{manager.home}/gd-smoke-http.log")
        unit = (
            "[Unit]\nDescription=gitdeploy systemd --user smoke test\n\n"
            "[Service]\n"
            f"ExecStart=/usr/bin/python3 -m http.server {port} --bind 127.0.0.1\n"
            "Restart=on-failure\nRestartSec=0.2\n"
            f"StandardOutput=append:{smoke.log_path}\nStandardError=inherit\n"
        )
        manager.run_as(["mkdir", "-p", unit_dir])  # as the user, so the user owns it all
        manager.run_as(["rm", "-f", smoke.log_path])  # stale from an earlier run
        manager.run_as(["tee", smoke.unit_path], input=unit.encode())
        manager.systemctl("daemon-reload")
        yield smoke
    finally:
        manager.stop()
    leftovers = subprocess.run(["pgrep", "-u", USER], capture_output=True, text=True)
    assert leftovers.stdout == "", f"processes of {USER} survived stop(): {leftovers.stdout}"
    assert not os.path.exists(manager.runtime_dir)
    assert not any(cgroup.exists() for cgroup in manager.cgroups)


def test_service_restarts_on_failure(smoke: Smoke) -> None:
    manager = smoke.manager
    manager.systemctl("start", UNIT)
    wait_for("the service to answer HTTP 200", lambda: http_status(smoke.port) == 200)
    first = main_pid(manager)
    assert first > 0
    assert manager.systemctl("is-active", UNIT).stdout.strip() == b"active"

    os.kill(first, signal.SIGKILL)
    wait_for(
        "a new MainPID serving again",
        lambda: main_pid(manager) not in (0, first) and http_status(smoke.port) == 200,
    )

    manager.systemctl("stop", UNIT)
    assert manager.systemctl("is-active", UNIT, check=False).stdout.strip() == b"inactive"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", smoke.port), timeout=2).close()
    with open(smoke.log_path) as log:  # StandardOutput=append: is the only log without journald
        assert '"GET / HTTP/1.1" 200' in log.read()


def test_verify_accepts_the_unit(smoke: Smoke) -> None:
    result = smoke.manager.run_as(["systemd-analyze", "--user", "verify", smoke.unit_path])
    assert (result.stdout + result.stderr).decode() == ""


def test_verify_reports_unknown_keys(smoke: Smoke) -> None:
    """systemd-analyze exits 0 on unknown keys: callers must treat any output as a failure."""
    bad = smoke.unit_path.replace(UNIT, "gd-smoke-bad.service")
    smoke.manager.run_as(["tee", bad], input=b"[Service]\nExecStart=/bin/true\nNoSuchKey=1\n")
    result = smoke.manager.run_as(["systemd-analyze", "--user", "verify", bad])
    assert "Unknown key 'NoSuchKey'" in result.stderr.decode()

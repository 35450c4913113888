"""A real nginx on loopback high ports, run by the deploy user itself, that includes a
gitdeploy server root's front door config (``ROOT/nginx/gitdeploy*.conf``: nothing until
the front door is turned on). gitdeploy reloads it with SIGHUP (``proxy.pidfile``)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from gitdeploy.proxy.render import temp_paths
from tests.support import unavailable


def free_port(avoid: range = range(0)) -> int:
    """A free port outside ``avoid`` (an app's block of ports, which its web will take)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in avoid:
            return port


@dataclass
class Nginx:
    prefix: Path
    root: Path  # the gitdeploy server root whose config it includes
    http_port: int
    https_port: int
    user: str | None

    @property
    def pidfile(self) -> Path:
        return self.prefix / "nginx.pid"

    def settings(self) -> list[str]:
        """What to pass to ``gitdeploy settings:set`` before turning the front door on."""
        return [f"proxy.http_port={self.http_port}", f"proxy.https_port={self.https_port}",
                "proxy.address=127.0.0.1", f"proxy.pidfile={self.pidfile}",
                f"proxy.acme_root={self.prefix / 'acme'}"]

    def stop(self) -> None:
        try:
            pid = int(self.pidfile.read_text())
            os.kill(pid, 15)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.05)
        except (OSError, ValueError):
            pass
        shutil.rmtree(self.prefix, ignore_errors=True)


def start_nginx(prefix: Path, root: Path, user: str | None = None,
                avoid: range = range(0)) -> Nginx:
    binary = shutil.which("nginx", path="/usr/sbin:/usr/bin")
    if binary is None:
        unavailable("nginx is not installed (apt install nginx)")
    assert binary is not None
    site = Nginx(prefix, root, free_port(avoid), free_port(avoid), user)
    (prefix / "tmp").mkdir(parents=True)
    (prefix / "acme").mkdir()
    temp = temp_paths(str(prefix / "tmp"))
    (prefix / "nginx.conf").write_text(
        f"pid {site.pidfile};\nerror_log {prefix}/error.log;\nworker_processes 1;\n"
        f"events {{ worker_connections 1024; }}\n"
        f"http {{\n  {temp}\n  access_log off;\n  include {root}/nginx/gitdeploy*.conf;\n}}\n")
    if user is not None:
        account = pwd.getpwnam(user)
        for path in [prefix, *prefix.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid)
    done = subprocess.run([binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                           "-e", str(prefix / "error.log")], capture_output=True, text=True,
                          timeout=30, check=False, user=user)
    if done.returncode != 0:
        raise AssertionError(f"nginx did not start: {done.stderr}")
    deadline = time.monotonic() + 10
    while not site.pidfile.exists() or not site.pidfile.read_text().strip():
        if time.monotonic() > deadline:
            raise AssertionError("nginx wrote no pid file")
        time.sleep(0.02)
    return site

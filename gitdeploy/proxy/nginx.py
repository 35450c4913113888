"""nginx itself: every config change is checked with ``nginx -t`` before the running nginx
can see it, installed file by file (atomic renames), then nginx is told to reload.

Reloading: a deploy user that runs its own nginx names its pid file (``proxy.pidfile``) and
gets a SIGHUP sent; the system nginx, run by root, is reloaded by the root-owned path unit
``setup`` installs, which watches the ``reload`` file (and runs ``nginx -t`` itself first).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

from gitdeploy.errors import GitdeployError
from gitdeploy.proxy.render import Listen, Site, main_config, quote, site_config, temp_paths
from gitdeploy.store.fsops import atomic_write, remove_file, remove_tree

TIMEOUT = 30
SEARCH = "/usr/sbin:/usr/local/sbin:/sbin:/usr/bin:/usr/local/bin"


def binary() -> str | None:
    return shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:{SEARCH}")


def render(sites: list[Site], listen: Listen, directory: Path,
           serial: str) -> dict[str, str]:
    """Every file of the config, by path relative to ``directory``."""
    files = {"gitdeploy.conf": main_config(listen, str(directory / "apps"), serial)}
    files.update({f"apps/{site.app}.conf": site_config(site, listen, serial)
                  for site in sites})
    return files


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def check(sites: list[Site], listen: Listen, directory: Path, serial: str) -> None:
    """``nginx -t`` of the config in a scratch copy; GitdeployError with nginx's own words
    if it refuses. Not root, privileged ports are checked as free high ones on the same
    address (``nginx -t`` binds the ports it checks)."""
    nginx = binary()
    if nginx is None:
        raise GitdeployError("nginx is not installed (gitdeploy setup installs it)")
    if os.geteuid() != 0 and min(listen.http_port, listen.https_port) < 1024:
        listen = replace(listen, http_port=_free_port(), https_port=_free_port())
    scratch = directory / ".check"
    remove_tree(scratch)
    (scratch / "apps").mkdir(parents=True, mode=0o700)
    (scratch / "tmp").mkdir(mode=0o700)
    for name, text in render(sites, listen, scratch, serial).items():
        (scratch / name).write_text(text)
    temp = temp_paths(str(scratch / "tmp"))
    (scratch / "test.conf").write_text(
        f"pid {quote(str(scratch / 'nginx.pid'))};\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n    {temp}\n    access_log off;\n"
        f"    include {quote(str(scratch / 'gitdeploy.conf'))};\n}}\n")
    try:
        done = subprocess.run([nginx, "-t", "-q", "-p", str(scratch), "-e", "stderr",
                               "-c", str(scratch / "test.conf")], capture_output=True,
                              text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        remove_tree(scratch)
        raise GitdeployError(f"nginx -t did not finish in {TIMEOUT} s") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if "[emerg]" in line] or \
            done.stderr.strip().splitlines()[-1:]
        why = (lines[0].split("] ", 1)[-1] if lines else f"exit status {done.returncode}")
        why = re.sub(r"^\d+#\d+: ", "", why)  # the pid#tid nginx puts first
        remove_tree(scratch)
        raise GitdeployError("nginx refused the new config, so nothing changed: "
                             + why.replace(str(scratch), str(directory)))
    remove_tree(scratch)


def install(sites: list[Site], listen: Listen, directory: Path, serial: str) -> None:
    """Write the config's files where nginx reads them (those that changed), and remove
    those of apps that are gone."""
    (directory / "apps").mkdir(parents=True, exist_ok=True, mode=0o755)
    wanted = render(sites, listen, directory, serial)
    for name, text in wanted.items():
        path = directory / name
        try:
            same = path.read_text() == text
        except FileNotFoundError:
            same = False
        if not same:
            atomic_write(path, text.encode(), 0o644)
    for path in (directory / "apps").glob("*.conf"):
        if f"apps/{path.name}" not in wanted:
            remove_file(path)


def reload(directory: Path, pidfile: str | None) -> None:
    """Ask nginx to load the installed config (gracefully: running requests finish)."""
    if pidfile:
        try:
            pid = int(Path(pidfile).read_text().strip())
            if Path(f"/proc/{pid}/comm").read_text().strip() != "nginx":
                raise ValueError(f"process {pid} is not nginx")
            os.kill(pid, signal.SIGHUP)
        except (OSError, ValueError) as exc:
            raise GitdeployError(f"nginx could not be told to reload (pid file {pidfile}): "
                                 f"{exc}") from None
        return
    with open(directory / "reload", "w") as handle:  # closed after a write: the path unit
        handle.write(f"{time.time():.3f}\n")


def probe(listen: Listen, host: str, path: str, timeout: float = 2) -> tuple[int, str]:
    """One request through the front door: (status, body); (0, why) if none came back."""
    import http.client

    connection = http.client.HTTPConnection(listen.address or "127.0.0.1", listen.http_port,
                                            timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": host,
                                                 "User-Agent": "gitdeploy-healthcheck"})
        response = connection.getresponse()
        return response.status, response.read(4096).decode(errors="replace")
    except (OSError, http.client.HTTPException) as exc:
        return 0, str(exc) or exc.__class__.__name__
    finally:
        connection.close()

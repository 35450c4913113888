"""Client mode: on a developer's machine, run commands on the server over ssh.

Inside a checkout whose git remote (``deploy``, or ``--remote NAME``) is
``USER@HOST:APP`` or ``ssh://USER@HOST[:PORT]/APP``, ``gitdeploy releases`` becomes
``ssh USER@HOST gitdeploy releases -a APP``, its output streamed and its exit code kept.
The ssh program is the one git would use (``$GIT_SSH_COMMAND``, ``core.sshCommand``).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from urllib.parse import urlsplit

from gitdeploy.errors import UsageError

_SCP_LIKE = re.compile(r"(?P<host>(?:[^@/:]+@)?(?:\[[^\]]+\]|[^:/]+)):(?P<path>[^/].*|/.*)")


@dataclass(frozen=True)
class Remote:
    destination: str  # [user@]host
    port: int | None
    app: str


def parse_remote_url(url: str) -> Remote | None:
    """The server and app of an ssh remote URL; None for local paths and other schemes."""
    if url.startswith("ssh://"):
        parts = urlsplit(url)
        if not parts.hostname:
            return None
        user = f"{parts.username}@" if parts.username else ""
        return Remote(f"{user}{parts.hostname}", parts.port, _app_of(parts.path))
    if "://" in url or url.startswith(("/", ".", "file:")):
        return None
    match = _SCP_LIKE.fullmatch(url)
    if not match:
        return None
    return Remote(match["host"], None, _app_of(match["path"]))


def _app_of(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")


def _git_config(key: str) -> str | None:
    try:
        done = subprocess.run(["git", "config", "--get", key], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def find_remote(name: str | None) -> Remote | None:
    """The ssh remote of the checkout around the current directory, if there is one."""
    url = _git_config(f"remote.{name or 'deploy'}.url")
    if url is None:
        if name is not None:
            raise UsageError(f"this checkout has no git remote named {name!r}")
        return None
    remote = parse_remote_url(url)
    if remote is None and name is not None:
        raise UsageError(f"remote {name!r} ({url}) is not an ssh remote of a gitdeploy server")
    return remote


def ssh_argv(remote: Remote, words: list[str]) -> list[str]:
    program = os.environ.get("GIT_SSH_COMMAND") or _git_config("core.sshCommand") or "ssh"
    argv = shlex.split(program)
    if remote.port is not None:
        argv += ["-p", str(remote.port)]
    # ssh joins its arguments with spaces: send one string the server's shlex splits back.
    return [*argv, "--", remote.destination, shlex.join(["gitdeploy", *words])]


def run_remote(remote: Remote, words: list[str]) -> None:
    argv = ssh_argv(remote, words)
    os.execvp(argv[0], argv)

"""The sandbox's view, as a bubblewrap command line. Values in, argv out.

App code's environment never reaches bubblewrap's own process on the host (the app's config
could otherwise name a PATH with its own ``bwrap``, or an ``LD_PRELOAD``, and run outside
the sandbox): bubblewrap runs with an empty environment, clears the sandbox's, and reads the
app's variables as ``--setenv`` arguments from a file descriptor, never from argv.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APP = "/app"
DATA = "/data"
CACHE = "/cache"  # a build's cache (in its build root, beside /app: hard links work)
TOOLS = "/opt/gitdeploy/bin"  # gitdeploy's build tools (uv), bound read-only for builds
# Read-only from the host, when present: the system, and the sockets an app may reach
# (PostgreSQL's; systemd-resolved's, where /etc/resolv.conf points at it).
SYSTEM_DIRS = ("/usr", "/etc")
TRY_DIRS = ("/run/postgresql", "/run/systemd/resolve")
TOP_LEVEL = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def bwrap_path() -> str:
    """bubblewrap by absolute path, found on gitdeploy's own PATH (never the app's)."""
    return shutil.which("bwrap") or "/usr/bin/bwrap"


def env_arguments(env: Mapping[str, str]) -> bytes:
    """The app's environment as bubblewrap arguments for ``--args FD``: NUL-separated
    ``--setenv NAME VALUE`` (values may hold anything but NUL, which no variable can)."""
    parts = []
    for name, value in env.items():
        parts += [b"--setenv", name.encode(), value.encode()]
    return b"".join(part + b"\0" for part in parts)


def _hidden_from_root() -> list[str]:
    """When gitdeploy itself runs as root, what in /etc other users may not read (shadow
    files, ssh host keys, /etc/ssl/private, ...): uid 0 keeps owner access to root's files
    even with every capability dropped."""
    return list(_not_world_readable("/etc")) if os.geteuid() == 0 else []


@functools.cache
def _not_world_readable(top: str) -> tuple[str, ...]:
    """Mounts that cover each file and directory under ``top`` that others may not read
    (found once per process: a walk of /etc takes a few milliseconds)."""
    args: list[str] = []
    for directory, subdirs, files in os.walk(top):
        for name in sorted(subdirs):
            path = os.path.join(directory, name)
            if not os.path.islink(path) and not os.stat(path).st_mode & stat.S_IROTH:
                args += ["--tmpfs", path]
                subdirs.remove(name)
        for name in sorted(files):
            path = os.path.join(directory, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and not info.st_mode & stat.S_IROTH:
                args += ["--ro-bind", "/dev/null", path]
    return tuple(args)


def _top_level() -> list[str]:
    """/bin, /lib, ... as the host has them: symlinks into /usr (merged /usr), or
    directories bound read-only."""
    args: list[str] = []
    for path in TOP_LEVEL:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


@dataclass(frozen=True)
class Sandbox:
    """What one run of app code sees: ``files`` at /app (read-only unless ``writable``: the
    build's own new release), ``data`` at /data. ``enabled`` False is the operator's
    shared-trust mode: the command runs on the host, in ``files``.

    ``root``, for builds: a directory bound read-write at / itself, holding ``app`` (the
    build's files, so ``files`` must be ``root/app``) and ``cache`` (/cache). One mount for
    both: link(2) refuses to cross mounts, so a cache bound on its own could only be copied
    from. ``tools``: (host path, path inside) pairs bound read-only, e.g. uv under TOOLS."""

    files: Path
    data: Path
    writable: bool = False
    enabled: bool = True
    root: Path | None = None
    tools: tuple[tuple[str, str], ...] = ()

    @property
    def host_cwd(self) -> Path:
        """Where the sandbox is started from on the host (inside, it changes to /app)."""
        return Path("/") if self.enabled else self.files

    def argv(self, command: list[str], *, env_fd: int | None = None,
             status_fd: int | None = None, die_with_parent: bool = True) -> list[str]:
        """``command`` inside the sandbox, its environment read from ``env_fd`` (see
        ``env_arguments``; None: an empty one). ``die_with_parent``: the whole sandbox is
        killed when its starter dies (a worker killed with kill -9); not under systemd,
        which stops a unit itself and must reach the app with SIGTERM first."""
        if not self.enabled:
            return command
        args = [bwrap_path(), "--clearenv"]
        if env_fd is not None:
            args += ["--args", str(env_fd)]
        args += ["--unshare-all", "--unshare-user", "--disable-userns", "--share-net",
                 "--new-session"]
        if die_with_parent:
            args.append("--die-with-parent")
        if os.geteuid() == 0:  # root keeps its capabilities in bwrap unless told
            args += ["--cap-drop", "ALL"]
        if self.root is not None:
            if self.files != self.root / "app":
                raise ValueError(f"a build root holds its files at app/, not {self.files}")
            args += ["--bind", str(self.root), "/"]
        for path in SYSTEM_DIRS:
            args += ["--ro-bind", path, path]
        args += _top_level()
        for path in TRY_DIRS:
            args += ["--ro-bind-try", path, path]
        args += _hidden_from_root()
        args += ["--symlink", "../run", "/var/run", "--proc", "/proc", "--dev", "/dev",
                 "--tmpfs", "/dev/shm", "--tmpfs", "/tmp", "--dir", "/var/tmp"]
        if self.root is None:
            args += ["--bind" if self.writable else "--ro-bind", str(self.files), APP]
        for host, inside in self.tools:
            args += ["--ro-bind", host, inside]
        args += ["--bind", str(self.data), DATA, "--chdir", APP]
        if status_fd is not None:
            args += ["--json-status-fd", str(status_fd)]
        return [*args, "--", *command]

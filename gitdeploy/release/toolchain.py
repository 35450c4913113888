"""What the server has for builds: uv, its Pythons, node and npm. Only what app code can see
counts: a sandboxed build sees the system directories (/usr), so a Python or node is found on
the app's default PATH, never in gitdeploy's own environment (a pyenv shim, an nvm node)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from gitdeploy.appconfig.environment import DEFAULT_PATH
from gitdeploy.appconfig.noderange import RangeError, parse_version, satisfies
from gitdeploy.errors import GitdeployError

_PYTHON = re.compile(r"python(3\.\d+)")


def uv_binary() -> str:
    """uv as gitdeploy installs it (the PyPI package beside gitdeploy), else on PATH."""
    try:
        from uv import find_uv_bin  # the uv package, a dependency of gitdeploy

        return os.fspath(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise GitdeployError("uv is not installed: install gitdeploy with its "
                                 "dependencies (pip install gitdeploy) or put uv on PATH") from None
        return found


def pythons() -> dict[str, str]:
    """Installed Pythons by minor version, first on the default PATH: {"3.11": path}."""
    found: dict[str, str] = {}
    for directory in DEFAULT_PATH.split(":"):
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            match = _PYTHON.fullmatch(name)
            path = os.path.join(directory, name)
            if match and match.group(1) not in found and os.access(path, os.X_OK):
                found[match.group(1)] = path
    return found


def choose_python(wanted: str | None, source: str | None) -> str:
    """The interpreter for ``wanted`` ("3.11"; None: the server's python3)."""
    installed = pythons()
    if wanted is None:
        default = shutil.which("python3", path=DEFAULT_PATH)
        if default is not None:
            return default
        if installed:
            return installed[max(installed, key=lambda v: tuple(map(int, v.split("."))))]
        raise GitdeployError("no Python 3 is installed on this server (apt install python3)")
    if wanted in installed:
        return installed[wanted]
    have = ", ".join(f"{version} ({path})" for version, path in installed.items()) or "none"
    raise GitdeployError(f"{source} asks for Python {wanted}, which is not installed on this "
                         f"server; installed: {have}")


def check_node(engines: str | None) -> str:
    """node's version; GitdeployError if node or npm is missing or outside ``engines``."""
    node = shutil.which("node", path=DEFAULT_PATH)
    if node is None or shutil.which("npm", path=DEFAULT_PATH) is None:
        raise GitdeployError("node and npm are not installed on this server (apt install "
                             "nodejs npm, or NodeSource's nodejs)")
    try:
        text = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10,
                              check=True, env={"PATH": DEFAULT_PATH}).stdout.strip()
        version = parse_version(text)
    except (OSError, subprocess.SubprocessError, RangeError) as exc:
        raise GitdeployError(f"{node} --version failed: {exc}") from None
    if engines is not None:
        try:
            ok = satisfies(version, engines)
        except RangeError as exc:
            raise GitdeployError(f"package.json: engines.node is {engines!r}: {exc}") from None
        if not ok:
            raise GitdeployError(f"package.json asks for node {engines}; this server has "
                                 f"node {text} ({node})")
    return text


def django_installed(venv: Path) -> bool:
    """Whether the release's virtualenv holds Django (found on disk, no interpreter run)."""
    return any((lib / "site-packages" / "django").is_dir()
               for lib in (venv / "lib").glob("python3*"))

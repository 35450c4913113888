"""What a commit's build is, from its top-level files: Heroku's buildpack detection. Pure:
file names and a few small files' bytes in, a plan out (release/build.py carries it out).

Order, as Heroku's buildpacks and Piku look: Python (``uv.lock``, then ``poetry.lock``, then
``pyproject.toml``, then ``requirements.txt``), then Node (``package.json``, ``npm ci`` with
its ``package-lock.json``), else a Procfile-only app with nothing to build. ``builder:`` in
gitdeploy.yml names the builders (or ``none``) instead; its ``build:`` command runs after.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from gitdeploy.appconfig.settings import AppSettings
from gitdeploy.errors import UsageError

PYTHON_FILES = ("uv.lock", "poetry.lock", "pyproject.toml", "requirements.txt")
NODE_FILES = ("package.json", "package-lock.json")
# Read for their contents (all small); the others only need to exist.
READ_FILES = ("package.json", ".python-version", "runtime.txt")
DETECT_FILES = (*PYTHON_FILES, *NODE_FILES, ".python-version", "runtime.txt", "manage.py")
_PYTHON_VERSION = re.compile(r"(?:python-|cpython-)?(3\.\d+)(?:\.\d+)?")


class BuildpackError(UsageError):
    """The commit's build files cannot be used as they are (the build fails: exit 2)."""


@dataclass(frozen=True)
class PythonBuild:
    installer: str  # "uv sync", "poetry", "pyproject", "requirements"
    source: str  # the file that decided it
    python: str | None  # "3.11" from .python-version / runtime.txt; None: the server's
    python_source: str | None
    django: bool  # manage.py at the top: collectstatic, if Django is installed
    collectstatic: bool

    name = "python"


@dataclass(frozen=True)
class NodeBuild:
    installer: str  # "npm ci" (a package-lock.json) or "npm install"
    build_script: bool
    engines: str | None  # package.json's engines.node
    dev_dependencies: bool

    name = "node"


@dataclass(frozen=True)
class BuildPlan:
    steps: tuple[PythonBuild | NodeBuild, ...] = ()
    command: str | None = None  # gitdeploy.yml's build:, after the builders
    detected: bool = True  # False: gitdeploy.yml named the builders
    notes: tuple[str, ...] = field(default=())

    @property
    def builds(self) -> bool:
        """Whether anything writes into the release (so it cannot share the live one's
        files)."""
        return bool(self.steps) or self.command is not None

    def summary(self) -> str:
        """One line for the ledger: what made the release's files."""
        parts = [f"{step.name} ({getattr(step, 'source', 'package.json')})"
                 for step in self.steps]
        if self.command is not None:
            parts.append(f"build: {self.command}")
        return "; ".join(parts)

    def describe(self) -> list[str]:
        """What the push says it found, and why."""
        lines = []
        how = "detected" if self.detected else "named in gitdeploy.yml"
        for step in self.steps:
            if isinstance(step, PythonBuild):
                lines.append(f"Python app {how} ({step.source}): {_PYTHON_INSTALL[step.installer]}")
            else:
                lines.append(f"Node app {how} (package.json): {step.installer}"
                             + (", then npm run build" if step.build_script else ""))
        if not self.steps:
            lines.append("No build: no requirements.txt, pyproject.toml, uv.lock or "
                         "package.json" if self.detected else "No builder (gitdeploy.yml)")
        if self.command is not None:
            lines.append(f"Then the build command of gitdeploy.yml: {self.command}")
        return [*lines, *self.notes]


_PYTHON_INSTALL = {
    "uv sync": "uv sync --locked into .venv",
    "poetry": "poetry install (run by uv) into .venv",
    "pyproject": "uv pip install -r pyproject.toml into .venv",
    "requirements": "uv pip install -r requirements.txt into .venv",
}


def detect(present: set[str], files: Mapping[str, bytes | None], settings: AppSettings,
           config: Mapping[str, str]) -> BuildPlan:
    """The build of a commit whose top level holds ``present`` (names of DETECT_FILES),
    ``files`` the bytes of READ_FILES. Raise BuildpackError for files that cannot work."""
    wanted = settings.builders
    notes: list[str] = []
    if wanted is None:
        if any(name in present for name in PYTHON_FILES):
            wanted = ("python",)
        elif "package.json" in present:
            wanted = ("node",)
        else:
            wanted = ()
    steps: list[PythonBuild | NodeBuild] = []
    for name in wanted:
        if name == "python":
            steps.append(_python(present, files, settings, config, notes))
        else:
            steps.append(_node(present, files))
    return BuildPlan(tuple(steps), settings.build, settings.builders is None, tuple(notes))


def _python(present: set[str], files: Mapping[str, bytes | None], settings: AppSettings,
            config: Mapping[str, str], notes: list[str]) -> PythonBuild:
    installers = {"uv.lock": "uv sync", "poetry.lock": "poetry", "pyproject.toml": "pyproject",
                  "requirements.txt": "requirements"}
    source = next((name for name in PYTHON_FILES if name in present), None)
    if source is None:
        raise BuildpackError("builder python needs a requirements.txt, pyproject.toml, "
                             "poetry.lock or uv.lock at the top of the repository")
    installer = installers[source]
    if installer == "poetry" and "pyproject.toml" not in present:
        raise BuildpackError("poetry.lock needs its pyproject.toml beside it")
    python, python_source = None, None
    for name in (".python-version", "runtime.txt"):
        data = files.get(name)
        if data is not None:
            python, python_source = python_request(name, data), name
            break
    collectstatic = settings.python.collectstatic
    if "manage.py" in present and collectstatic and config.get("DISABLE_COLLECTSTATIC", "") \
            not in ("", "0"):
        collectstatic = False
        notes.append("collectstatic is off: DISABLE_COLLECTSTATIC is set")
    return PythonBuild(installer, source, python, python_source, "manage.py" in present,
                       collectstatic)


def python_request(name: str, data: bytes) -> str:
    """"3.11" from a .python-version (``3.11``, ``3.11.4``) or runtime.txt
    (``python-3.11.4``): its first line that is not a comment."""
    lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
    wanted = next((line for line in lines if line and not line.startswith("#")), "")
    match = _PYTHON_VERSION.fullmatch(wanted)
    if match is None:
        raise BuildpackError(f"{name} asks for {wanted!r}: write a Python version such as "
                             "3.11" + (" (python-3.11.4)" if name == "runtime.txt" else ""))
    return match.group(1)


def _node(present: set[str], files: Mapping[str, bytes | None]) -> NodeBuild:
    data = files.get("package.json")
    if data is None:
        raise BuildpackError("builder node needs a package.json at the top of the repository")
    try:
        package = json.loads(data)
    except ValueError as exc:
        raise BuildpackError(f"package.json is not valid JSON: {exc}") from None
    if not isinstance(package, dict):
        raise BuildpackError("package.json must hold a JSON object")
    scripts = package.get("scripts")
    engines = package.get("engines")
    node = engines.get("node") if isinstance(engines, dict) else None
    if node is not None and not isinstance(node, str):
        raise BuildpackError(f"package.json: engines.node must be a version range, got {node!r}")
    return NodeBuild(
        installer="npm ci" if "package-lock.json" in present else "npm install",
        build_script=isinstance(scripts, dict) and isinstance(scripts.get("build"), str),
        engines=node,
        dev_dependencies=bool(package.get("devDependencies")),
    )

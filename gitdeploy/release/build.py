"""A release's build: the detected builders (a virtualenv with uv, node_modules with npm),
then gitdeploy.yml's build command, in the app's sandbox where the release will live.

Sandboxed, the build sees its release at /app (the path every later command sees: shebangs
and paths written by the build stay right) and the app's build cache at /cache, both in the
one build root bound at / (hard links from the cache into the release work only within one
mount). Without the sandbox it builds in releases/vN itself, for the same reason.

The cache is written by uv and npm only, each of which writes an entry under a temporary
name and renames it when complete: a build that fails or is killed leaves no entry the next
build would use. No running app sees it.
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitdeploy.appconfig.buildenv import paths_to_bind
from gitdeploy.appconfig.buildpack import BuildPlan, NodeBuild, PythonBuild
from gitdeploy.appconfig.settings import ReleaseSettings
from gitdeploy.errors import GitdeployError
from gitdeploy.model.states import Reason
from gitdeploy.release import pins, toolchain
from gitdeploy.release.failure import ReleaseFailure
from gitdeploy.run.runner import run_command
from gitdeploy.sandbox import bwrap
from gitdeploy.store.fsops import private_dir, remove_tree
from gitdeploy.store.releaselog import ReleaseLog

TAIL = 5  # a failed step's last lines, in the release's failure reason


@dataclass(frozen=True)
class Place:
    """Where the build's files are, as the build sees them (/app, /cache) and on the host."""
    files: Path  # on the host
    cache: Path  # on the host
    app: str  # as the build sees them
    cache_seen: str
    uv: str


def prepare_root(root: Path) -> None:
    """A clean build root: its files (app/) and the cache kept, everything else a step left
    (the mount points bubblewrap made, anything it wrote at /) removed. Before each step:
    bubblewrap will not make a symlink (/bin) where one exists."""
    private_dir(root)
    for entry in root.iterdir():
        if entry.name not in ("app", "cache"):
            remove_tree(entry)
    for name in ("uv", "npm"):
        (root / "cache" / name).mkdir(parents=True, exist_ok=True)


def place(root: Path, files: Path, *, sandboxed: bool) -> Place:
    uv = toolchain.uv_binary()
    if sandboxed:
        return Place(files, root / "cache", bwrap.APP, bwrap.CACHE, f"{bwrap.TOOLS}/uv")
    return Place(files, root / "cache", str(files), str(root / "cache"), uv)


def tools(where: Place, network: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """What a sandboxed build sees besides the system: uv, and the CA bundles the network
    settings name outside /usr and /etc."""
    found = [(toolchain.uv_binary(), where.uv)]
    found += [(path, path) for path in paths_to_bind(network) if os.path.exists(path)]
    return tuple(found)


def tool_environment(where: Place) -> dict[str, str]:
    """What points uv and npm at the app's cache and the release's .venv."""
    venv = f"{where.app}/.venv"
    return {
        "UV_CACHE_DIR": f"{where.cache_seen}/uv",
        "UV_LINK_MODE": "hardlink",
        "UV_PYTHON_DOWNLOADS": "never",  # the server's Pythons only
        "UV_PROJECT_ENVIRONMENT": venv,
        "UV_TOOL_DIR": f"{where.cache_seen}/uv-tools",
        "VIRTUAL_ENV": venv,
        # bytecode of the build's own Python runs (collectstatic), kept for the next build:
        # valid while a package's files are the cache's (hard links keep their mtimes)
        "PYTHONPYCACHEPREFIX": f"{where.cache_seen}/pyc",
        "POETRY_VIRTUALENVS_CREATE": "false",
        "POETRY_CACHE_DIR": f"{where.cache_seen}/poetry",
        "npm_config_cache": f"{where.cache_seen}/npm",
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    }


Step = tuple[str, "list[str] | str"]  # (what the push is told, argv or the user's command)


def python_steps(step: PythonBuild, where: Place) -> list[Step]:
    python = toolchain.choose_python(step.python, step.python_source)
    uv, venv = where.uv, f"{where.app}/.venv"
    steps: list[Step] = [(f"Creating .venv with {python}",
                          [uv, "venv", "--quiet", "--clear", "--python", python, venv])]
    if step.installer == "uv sync":
        steps.append(("uv sync --locked --no-dev", [uv, "sync", "--locked", "--no-dev",
                                                    "--python", f"{venv}/bin/python"]))
    elif step.installer == "poetry":
        steps.append(("poetry install --only main", [
            uv, "tool", "run", "--python", python, "--from", "poetry", "poetry", "install",
            "--only", "main", "--no-root", "--no-interaction"]))
    else:
        source = "pyproject.toml" if step.installer == "pyproject" else "requirements.txt"
        steps.append((f"uv pip install -r {source}", [uv, "pip", "install", "-r", source]))
    return steps


def node_steps(step: NodeBuild) -> list[Step]:
    install = step.installer.split()
    dev = step.build_script and step.dev_dependencies
    steps: list[Step] = [(step.installer, ["npm", *install[1:], "--no-audit", "--no-fund",
                                           *(["--include=dev"] if dev else [])])]
    if step.build_script:
        steps.append(("npm run build", ["npm", "run", "build"]))
    if dev:
        steps.append(("npm prune --omit=dev", ["npm", "prune", "--omit=dev", "--no-audit",
                                               "--no-fund"]))
    return steps


def run_build(plan: BuildPlan, where: Place, box: bwrap.Sandbox, env: Mapping[str, str],
              settings: ReleaseSettings, log: ReleaseLog) -> list[tuple[str, float]]:
    """Every step of ``plan``, in order, and what each took; ReleaseFailure (build failed)
    at the first that fails, with its last lines."""
    for text in plan.describe():
        log.header(text)
    steps = _Steps(box, env, settings, log)
    try:
        for builder in plan.steps:
            if isinstance(builder, PythonBuild):
                _python(builder, where, steps)
                if builder.django and builder.collectstatic and \
                        toolchain.django_installed(where.files / ".venv"):
                    steps.run("python manage.py collectstatic --noinput",
                              [f"{where.app}/.venv/bin/python", "manage.py", "collectstatic",
                               "--noinput"])
            else:
                toolchain.check_node(builder.engines)
                for title, command in node_steps(builder):
                    steps.run(title, command)
    except GitdeployError as exc:
        raise ReleaseFailure(Reason.BUILD_FAILED, exc.message) from None
    if plan.command is not None:
        steps.run(f"Running build command: {plan.command}", plan.command, name="build command")
    return steps.spent


def _python(step: PythonBuild, where: Place, steps: _Steps) -> None:
    """The venv, then the install: from the last build's pins while requirements.txt is
    unchanged (offline; resolved again if the cache lacks any), else as python_steps say."""
    (title, command), *install = python_steps(step, where)
    steps.run(title, command)
    name = None
    if step.installer == "requirements":
        requirements = where.files / "requirements.txt"
        python = toolchain.choose_python(step.python, step.python_source)
        name = pins.key(requirements.read_text(errors="replace"), python, steps.env)
    if name is not None and pins.path(where.cache, name).is_file():
        seen = f"{where.cache_seen}/{pins.DIRECTORY}/{name}.txt"
        try:
            steps.run("uv pip install -r requirements.txt (unchanged: the last build's "
                      "versions, from the cache)",
                      [where.uv, "pip", "install", "--offline", "-r", seen])
            return
        except ReleaseFailure:
            steps.log.header("The cache lacks some of them: resolving requirements.txt again")
    for title, argv in install:
        steps.run(title, argv)
    if name is not None:
        pins.record(where.files / ".venv", where.cache, name)


@dataclass
class _Steps:
    """Runs a build's steps in its sandbox, streaming their lines; keeps what each took."""
    box: bwrap.Sandbox
    env: Mapping[str, str]
    settings: ReleaseSettings
    log: ReleaseLog
    spent: list[tuple[str, float]] = field(default_factory=list)

    def run(self, title: str, command: list[str] | str, name: str | None = None) -> None:
        self.log.header(title)
        started = time.monotonic()
        if self.box.root is not None:
            prepare_root(self.box.root)
        tail: collections.deque[str] = collections.deque(maxlen=TAIL)

        def line(text: str) -> None:
            tail.append(text)
            self.log.line(text)

        result = run_command(command, sandbox=self.box, env=self.env,
                             timeout=self.settings.timeout,
                             kill_grace=self.settings.kill_grace, on_line=line)
        self.spent.append((title, round(time.monotonic() - started, 3)))
        if not result.ok:
            what = name or (command[0].rsplit("/", 1)[-1] + " " + " ".join(command[1:2])
                            if isinstance(command, list) else command)
            last = "".join(f"\n    {self.log.masker.mask(text)}" for text in tail)
            raise ReleaseFailure(Reason.BUILD_FAILED, f"{what} {result.describe()}"
                                 + (f"; its last lines:{last}" if last else ""))

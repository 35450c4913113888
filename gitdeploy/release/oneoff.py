"""One-off commands (``run -a APP -- CMD``): the live release's files, config and sandbox,
as ``heroku run`` gives a one-off dyno. The caller's stdin, stdout and stderr are the
command's; its exit status is the caller's."""

from __future__ import annotations

import shlex
import subprocess

from gitdeploy.errors import GitdeployError, UsageError
from gitdeploy.release.sandboxing import app_environment, sandbox_for
from gitdeploy.run.runner import start
from gitdeploy.sandbox import check
from gitdeploy.store.live import current_version
from gitdeploy.store.server import Server

TIMEOUT = 24 * 3600  # a one-off dyno's limit on Heroku


def command_line(words: list[str]) -> str:
    """``run -a APP -- CMD...``: one word is a shell command line as written; several are
    quoted into one, each kept a single argument."""
    if words and words[0] == "--":
        words = words[1:]
    if not words:
        raise UsageError("run needs a command: run -a APP -- CMD...")
    return words[0] if len(words) == 1 else shlex.join(words)


def run_one_off(server: Server, app: str, command: str) -> int:
    version = current_version(server, app)
    release = server.ledger.release(app, version) if version is not None else None
    if version is None or release is None:
        raise UsageError(f"{app} has no live release to run a command in: deploy it first")
    enabled = check.enabled()
    problem = check.problem() if enabled else None
    if problem is not None:
        raise GitdeployError(problem)
    layout = server.layout
    env = app_environment(layout, release.config or {}, app=app, version=version,
                          commit=release.commit, account=server.account, enabled=enabled)
    env["DYNO"] = "run.1"
    sandbox = sandbox_for(layout, app, layout.release_dir(app, version), enabled=enabled)
    try:
        process = start(sandbox, command, env)
    except OSError as exc:
        raise GitdeployError(f"the command could not start: {exc}") from None
    try:
        code = process.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise GitdeployError(f"the command was stopped after {TIMEOUT // 3600} h") from None
    return code if code >= 0 else 128 - code

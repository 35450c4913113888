"""The sandbox a release's app code runs in (build, release command, postdeploy), and the
check that one can be made before anything of the release runs: fail closed."""

from __future__ import annotations

from pathlib import Path

from gitdeploy.appconfig.environment import Account, release_environment
from gitdeploy.errors import GitdeployError
from gitdeploy.model.states import Reason
from gitdeploy.release.failure import ReleaseFailure
from gitdeploy.sandbox import bwrap, check
from gitdeploy.store.fsops import private_dir
from gitdeploy.store.layout import Layout
from gitdeploy.store.releaselog import ReleaseLog


def require_sandbox(log: ReleaseLog) -> bool:
    """True if app code runs sandboxed. The release fails if it should and cannot; in the
    operator's shared-trust mode, the release log says so."""
    try:
        if not check.enabled():
            log.warn(check.SHARED_TRUST)
            return False
    except GitdeployError as exc:
        raise ReleaseFailure(Reason.SANDBOX_UNAVAILABLE, exc.message) from None
    problem = check.problem()
    if problem is not None:
        raise ReleaseFailure(Reason.SANDBOX_UNAVAILABLE, problem)
    return True


def sandbox_for(layout: Layout, app: str, files: Path, *, enabled: bool,
                writable: bool = False, build_root: Path | None = None,
                tools: tuple[tuple[str, str], ...] = ()) -> bwrap.Sandbox:
    """``build_root`` and ``tools``: a build's (see bwrap.Sandbox); ignored unsandboxed."""
    data = layout.data_dir(app)
    if not data.is_dir():
        private_dir(data)
    if not enabled:
        return bwrap.Sandbox(files=files, data=data, writable=writable, enabled=False)
    return bwrap.Sandbox(files=files, data=data, writable=writable, enabled=True,
                         root=build_root, tools=tools)


def app_environment(layout: Layout, config: dict[str, str], *, app: str, version: int,
                    commit: str | None, account: Account, enabled: bool) -> dict[str, str]:
    """The release's environment with HOME, GITDEPLOY_DATA and PATH as its code sees them
    (unsandboxed, the release's files are releases/vN, which its build wrote into)."""
    if enabled:
        return release_environment(config, app=app, version=version, commit=commit,
                                   account=account, home=bwrap.APP, data=bwrap.DATA,
                                   files=bwrap.APP)
    return release_environment(config, app=app, version=version, commit=commit,
                               account=account, home=None, data=str(layout.data_dir(app)),
                               files=str(layout.release_dir(app, version)))

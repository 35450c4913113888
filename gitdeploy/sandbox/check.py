"""Whether app code can be sandboxed here, and the operator's choice: fail closed.

``GITDEPLOY_SANDBOX=off`` is the explicit shared-trust mode (app code runs as the deploy
user with the server in reach); anything else needs a working bubblewrap.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from gitdeploy.errors import GitdeployError
from gitdeploy.sandbox.bwrap import Sandbox

MODE_VAR = "GITDEPLOY_SANDBOX"
CHECK_TIMEOUT = 20
OFF_HINT = f"or set {MODE_VAR}=off to run app code unsandboxed (shared trust)"
NOT_INSTALLED = ("app code cannot be sandboxed: bubblewrap is not installed (Debian and "
                 f"Ubuntu: apt-get install bubblewrap; gitdeploy setup installs it), {OFF_HINT}")
SHARED_TRUST = (f"app code runs unsandboxed ({MODE_VAR}=off, shared trust): it can read and "
                "change everything the deploy user can, other apps included")


def enabled() -> bool:
    """The operator's setting: True unless the shared-trust mode was chosen."""
    value = os.environ.get(MODE_VAR, "on")
    if value not in ("on", "off"):
        raise GitdeployError(f"{MODE_VAR} must be on or off, not {value!r}")
    return value == "on"


def probe_argv() -> list[str]:
    """A sandbox as app code gets one, running ``true``."""
    return Sandbox(files=Path("/usr"), data=Path("/tmp")).argv(["/bin/true"])


@functools.cache
def problem() -> str | None:
    """None if a sandbox can be made here, else one sentence naming the cause and the fix
    (checked once per process: a bubblewrap run of ``true``, ~5 ms)."""
    if shutil.which("bwrap") is None:
        return NOT_INSTALLED
    try:
        done = subprocess.run(probe_argv(), capture_output=True, text=True,
                              timeout=CHECK_TIMEOUT, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"app code cannot be sandboxed: bubblewrap did not run ({exc}), {OFF_HINT}"
    return explain(done.returncode, done.stderr)


def explain(returncode: int, stderr: str) -> str | None:
    """bubblewrap's failure as a sentence with its fix (None: it ran)."""
    if returncode == 0:
        return None
    said = (stderr.strip().splitlines() or [f"exit status {returncode}"])[-1]
    if "namespace" in said.lower() or "permission" in said.lower():
        return ("app code cannot be sandboxed: bubblewrap cannot create a user namespace "
                f"here ({said}); allow unprivileged user namespaces (Debian: sysctl "
                "kernel.unprivileged_userns_clone=1; Ubuntu 24.04: sysctl "
                "kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile "
                f"for bwrap), {OFF_HINT}")
    return f"app code cannot be sandboxed: bubblewrap failed ({said}), {OFF_HINT}"

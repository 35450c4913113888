"""git as a subprocess: the bytes of a commit (git archive), bare repositories, rev-parse.

No dulwich here: the worker and quick commands use this module and must start fast.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from gitdeploy.errors import GitdeployError

GIT_TIMEOUT = 3600
ZERO_SHA = "0" * 40


def git_env() -> dict[str, str]:
    """The environment for git subprocesses: nothing a hook's GIT_DIR may leak into."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.setdefault("LC_ALL", "C")
    return env


def git(*args: str, timeout: float = 60, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, check=False, timeout=timeout, cwd=cwd,
            env=git_env(),
        )
    except subprocess.TimeoutExpired:
        raise GitdeployError(f"git {args[0]} timed out after {timeout:g} s") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise GitdeployError(f"git {args[0]} failed: {message[-1] if message else 'no output'}")
    return done.stdout.decode(errors="replace")


def init_bare(path: Path) -> None:
    git("init", "--quiet", "--bare", "--initial-branch=main", str(path))


def archive_into(repo: Path, sha: str, dest: Path, timeout: float = GIT_TIMEOUT) -> None:
    """``git archive SHA | tar -x -C DEST``: the commit's files, symlinks included."""
    archive = subprocess.Popen(
        ["git", "-c", "tar.umask=0022", "--git-dir", str(repo), "archive", "--format=tar", sha],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=git_env(),
    )
    try:
        extract = subprocess.run(
            ["tar", "-x", "-f", "-", "-C", str(dest), "--no-same-owner",
             "--delay-directory-restore"],
            stdin=archive.stdout, capture_output=True, timeout=timeout, check=False,
        )
    finally:
        assert archive.stdout is not None
        archive.stdout.close()
        try:
            archive_err = archive.communicate(timeout=30)[1]
        except subprocess.TimeoutExpired:
            archive.kill()
            archive_err = archive.communicate()[1]
    if archive.returncode != 0:
        raise GitdeployError(
            f"git archive failed: {archive_err.decode(errors='replace').strip()[-300:]}"
        )
    if extract.returncode != 0:
        detail = extract.stderr.decode(errors="replace").strip()[-300:]
        raise GitdeployError(f"extracting the commit failed: {detail}")

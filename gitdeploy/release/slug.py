"""Slug tarballs (.tar.gz, openable with plain tar): build, extract, share between releases."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

from gitdeploy import faults
from gitdeploy.errors import GitdeployError
from gitdeploy.git.repo import DIE_WITH_PARENT, git_env
from gitdeploy.store.fsops import fsync_dir

SLUG_TIMEOUT = 3600


def _tail(data: bytes) -> str:
    return data.decode(errors="replace").strip()[-300:] or "no output"


def create_slug(src: Path, dest: Path, timeout: float = SLUG_TIMEOUT) -> int:
    """Pack the directory ``src`` into ``dest`` (tar | gzip -1), durably; return its size."""
    return _compress(["tar", "-c", "-f", "-", "-C", str(src), "--owner=0", "--group=0",
                      "--numeric-owner", "."], dest, timeout, None)


def slug_from_commit(repo: Path, sha: str, dest: Path, timeout: float = SLUG_TIMEOUT) -> int:
    """The slug of a release built without a build command: exactly the commit's files, the
    bytes its directory was extracted from (git archive | gzip -1)."""
    return _compress(["git", "-c", "tar.umask=0022", "-c", "core.bigFileThreshold=1m",
                      "--git-dir", str(repo), "archive", "--format=tar", sha], dest, timeout,
                     git_env())


def _compress(producer: list[str], dest: Path, timeout: float,
              env: dict[str, str] | None) -> int:
    """producer | gzip -1 > dest, both at a lower CPU priority: when deploys pile up, their
    critical paths come before packing slugs nobody waits for."""
    producer = [*DIE_WITH_PARENT, "nice", "-n", "10", *producer]
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            tar = subprocess.Popen(producer, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=env)
            assert tar.stdout is not None
            faults.point("packing-slug")
            gzip = subprocess.run(
                [*DIE_WITH_PARENT, "nice", "-n", "10", "gzip", "-1", "-c"], stdin=tar.stdout,
                stdout=out,
                stderr=subprocess.PIPE, timeout=timeout, check=False,
            )
            tar.stdout.close()
            tar_err = tar.communicate(timeout=60)[1]
            if tar.returncode != 0:
                raise GitdeployError(f"packing the slug failed: {_tail(tar_err)}")
            if gzip.returncode != 0:
                raise GitdeployError(f"compressing the slug failed: {_tail(gzip.stderr)}")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(dest.parent)
    return dest.stat().st_size


def extract_slug(slug: Path, dest: Path, timeout: float = SLUG_TIMEOUT) -> None:
    done = subprocess.run(
        ["tar", "-x", "-z", "-f", str(slug), "-C", str(dest), "--no-same-owner"],
        capture_output=True, timeout=timeout, check=False,
    )
    if done.returncode != 0:
        raise GitdeployError(f"extracting slug {slug.name} failed: {_tail(done.stderr)}")


def share_slug(src: Path, dest: Path) -> None:
    """Give release ``dest`` the same slug as ``src``: a hard link (free), else a copy."""
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
    fsync_dir(dest.parent)

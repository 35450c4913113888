"""Writing a commit's files into a directory: whole (git archive | tar) or only some paths
(one git cat-file --batch, or git archive of a path list)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import IO

from gitdeploy import faults
from gitdeploy.errors import GitdeployError
from gitdeploy.git.repo import DIE_WITH_PARENT, GIT_TIMEOUT, Entry, git_env


def archive_into(repo: Path, sha: str, dest: Path, timeout: float = GIT_TIMEOUT) -> None:
    """``git archive SHA | tar -x -C DEST``: the commit's files, symlinks included."""
    _archive_and_extract(["--git-dir", str(repo), "archive", "--format=tar", sha], dest, timeout)


# Files above this size are streamed by git archive instead of being read whole into memory.
STREAM_ABOVE = "1m"


def _archive_and_extract(git_args: list[str], dest: Path, timeout: float) -> None:
    archive = subprocess.Popen(
        [*DIE_WITH_PARENT, "git", "-c", "tar.umask=0022", "-c",
         f"core.bigFileThreshold={STREAM_ABOVE}", *git_args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=git_env(),
    )
    try:
        faults.point("extracting")
        extract = subprocess.run(
            [*DIE_WITH_PARENT, "tar", "-x", "-f", "-", "-C", str(dest), "--no-same-owner",
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


def write_blobs(repo: Path, entries: list[Entry], dest: Path, mtime: int) -> None:
    """Write entries (files and symlinks) under ``dest`` as git archive would (mode 0644 or
    0755, mtime ``mtime``), streaming each blob from one ``git cat-file --batch``."""
    batch = subprocess.Popen(
        [*DIE_WITH_PARENT, "git", "--git-dir", str(repo), "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=git_env(),
    )
    assert batch.stdin is not None and batch.stdout is not None
    try:
        batch.stdin.write("".join(f"{e.sha}\n" for e in entries).encode())
        batch.stdin.close()
        for entry in entries:
            header = batch.stdout.readline().split()
            if len(header) != 3 or header[1] != b"blob":
                raise GitdeployError(f"git cat-file: no blob for {entry.path!r}")
            target = dest / entry.path
            target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            _write_blob(batch.stdout, int(header[2]), target, entry.mode)
            batch.stdout.read(1)  # the newline after the content
            os.utime(target, (mtime, mtime), follow_symlinks=False)
    finally:
        batch.kill()
        batch.wait()


def _write_blob(source: IO[bytes], size: int, target: Path, mode: str) -> None:
    if mode == "120000":
        os.symlink(source.read(size), target)
        return
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                 0o755 if mode == "100755" else 0o644)
    try:
        while size:
            chunk = source.read(min(size, 1 << 20))
            if not chunk:
                raise GitdeployError(f"git cat-file ended early writing {target.name!r}")
            os.write(fd, chunk)
            size -= len(chunk)
    finally:
        os.close(fd)


def archive_paths_into(repo: Path, sha: str, paths: list[str], dest: Path,
                       batch: int = 500) -> None:
    """Extract only ``paths`` of a commit (taken literally, never as globs)."""
    for start in range(0, len(paths), batch):
        _archive_and_extract(["--literal-pathspecs", "--git-dir", str(repo), "archive",
                              "--format=tar", sha, "--", *paths[start:start + batch]],
                             dest, GIT_TIMEOUT)

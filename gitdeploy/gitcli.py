"""git as a subprocess: the bytes of a commit (git archive), bare repositories, rev-parse.

No dulwich here: the worker and quick commands use this module and must start fast.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import IO, NamedTuple

from gitdeploy import faults
from gitdeploy.errors import GitdeployError

GIT_TIMEOUT = 3600
ZERO_SHA = "0" * 40
# The worker's long-running children die with it (not left writing into a directory that
# crash recovery is about to remove): setpriv sets PR_SET_PDEATHSIG, then execs them.
DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []


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
    # Paths in git's output are bytes: surrogateescape keeps a name that is not UTF-8 exactly
    # as it is, so handing it back to the filesystem or to git names the same file.
    return done.stdout.decode(errors="surrogateescape")


def init_bare(path: Path) -> None:
    git("init", "--quiet", "--bare", "--initial-branch=main", str(path))


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


def show_file(repo: Path, sha: str, path: str) -> bytes | None:
    """A file's bytes at a commit (None if absent), without checking the tree out."""
    done = subprocess.run(
        ["git", "--git-dir", str(repo), "cat-file", "blob", f"{sha}:{path}"],
        capture_output=True, timeout=60, check=False, env=git_env(),
    )
    return done.stdout if done.returncode == 0 else None


def commit_time(repo: Path, sha: str) -> int:
    """The committer time: git archive gives every file this mtime."""
    return int(git("--git-dir", str(repo), "show", "-s", "--format=%ct", sha).strip())


class Entry(NamedTuple):  # a NamedTuple: 50,000 of them are made per release
    mode: str  # "100644", "100755", "120000" (symlink), "160000" (submodule)
    sha: str
    path: str


def changed_paths(repo: Path, old: str, new: str) -> dict[str, Entry | None]:
    """Every path that differs between two commits: its new entry, or None if deleted."""
    out = git("--git-dir", str(repo), "diff-tree", "-r", "-z", "--no-renames", "--raw",
              old, new, timeout=GIT_TIMEOUT)
    fields = out.split("\0")
    changes: dict[str, Entry | None] = {}
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        if meta.startswith(":"):
            _, mode, _, sha, status = meta[1:].split()
            changes[path] = None if status == "D" else Entry(mode, sha, path)
    return changes


def tree_files(repo: Path, sha: str) -> list[Entry]:
    """Every entry of the commit's tree, recursively."""
    out = git("--git-dir", str(repo), "ls-tree", "-r", "-z", "--full-tree", sha,
              timeout=GIT_TIMEOUT)
    entries = []
    for record in out.split("\0"):
        if record:
            meta, path = record.split("\t", 1)
            mode, _, object_sha = meta.split(" ")
            entries.append(Entry(mode, object_sha, path))
    return entries


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

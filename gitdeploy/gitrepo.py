"""The app's bare repository: dulwich for refs, trees and commit metadata, real git for bytes."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from dulwich.errors import NotTreeError
from dulwich.object_store import tree_lookup_path
from dulwich.objects import Blob, Commit, Tag, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo

from gitdeploy.errors import GitdeployError, UsageError

GIT_TIMEOUT = 3600
ZERO_SHA = "0" * 40
_REF_CHARS = re.compile(r"[A-Za-z0-9._/@{}^~-]{1,250}")


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


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    subject: str
    author: str

    @property
    def short(self) -> str:
        return self.sha[:7]


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._repo = Repo(str(path))

    def close(self) -> None:
        self._repo.close()

    def has_branch(self, name: str) -> bool:
        return Ref(f"refs/heads/{name}".encode()) in self._repo.refs.allkeys()

    def branches(self) -> list[str]:
        return sorted(r.decode() for r in self._repo.refs.keys(base=Ref(b"refs/heads/")))

    def default_branch(self) -> str:
        """``main``, else ``master`` when the repository has no ``main``."""
        if not self.has_branch("main") and self.has_branch("master"):
            return "master"
        return "main"

    def resolve(self, ref: str) -> str:
        """A commit sha from a sha (full or unique prefix), a branch or a tag."""
        if not _REF_CHARS.fullmatch(ref) or ref.startswith("-"):
            raise UsageError(f"invalid git reference {ref[:60]!r}")
        try:
            out = git("--git-dir", str(self.path), "rev-parse", "--verify", "--quiet",
                      "--end-of-options", f"{ref}^{{commit}}")
        except GitdeployError:
            raise UsageError(f"no commit named {ref!r} in the app's repository") from None
        return out.strip()

    def commit(self, sha: str) -> CommitInfo:
        obj = self._repo[sha.encode()]
        while isinstance(obj, Tag):
            obj = self._repo[obj.object[1]]
        if not isinstance(obj, Commit):
            raise UsageError(f"{sha[:12]} is not a commit")
        subject = obj.message.decode(errors="replace").strip().splitlines()
        author = obj.author.decode(errors="replace")
        return CommitInfo(sha, subject[0] if subject else "", author)

    def read_file(self, sha: str, path: str, limit: int = 1 << 20) -> bytes | None:
        """A regular file's bytes at commit ``sha``, None if absent (or not a regular file)."""
        commit = self._repo[sha.encode()]
        assert isinstance(commit, Commit)
        try:
            mode, blob_sha = tree_lookup_path(self._repo.__getitem__, commit.tree, path.encode())
        except (KeyError, NotTreeError):
            return None
        if mode is None or mode & 0o170000 != 0o100000:
            return None
        info = self._repo.object_store.get_raw(blob_sha)
        if len(info[1]) > limit:
            raise UsageError(f"{path} is larger than {limit} bytes")
        blob = self._repo[blob_sha]
        assert isinstance(blob, Blob)
        return blob.as_raw_string()

    def has_submodules(self, sha: str) -> bool:
        commit = self._repo[sha.encode()]
        assert isinstance(commit, Commit)
        tree = self._repo[commit.tree]
        return isinstance(tree, Tree) and b".gitmodules" in tree


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

"""The app's bare repository read with dulwich: refs, trees, commit metadata."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dulwich.errors import NotTreeError
from dulwich.object_store import tree_lookup_path
from dulwich.objects import Blob, Commit, Tag, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo

from gitdeploy.errors import GitdeployError, UsageError
from gitdeploy.gitcli import git

_REF_CHARS = re.compile(r"[A-Za-z0-9._/@{}^~-]{1,250}")


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

"""Reading the app's bare repository: refs, and small files at a commit.

Plain git plumbing, one short process per question. (dulwich did this at first; importing it
took ~40 ms of every push's ~0.13 s start-up, for questions git answers in ~3 ms each.)
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from gitdeploy.errors import GitdeployError, UsageError
from gitdeploy.gitcli import git, git_env

_REF_CHARS = re.compile(r"[A-Za-z0-9._/@{}^~-]{1,250}")
REGULAR = ("100644", "100755")


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._branches: set[str] | None = None

    def has_branch(self, name: str) -> bool:
        if self._branches is None:
            out = git("--git-dir", str(self.path), "for-each-ref", "--format=%(refname)",
                      "refs/heads/")
            self._branches = {line.removeprefix("refs/heads/") for line in out.splitlines()}
        return name in self._branches

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

    def read_file(self, sha: str, path: str, limit: int = 1 << 20) -> bytes | None:
        """A regular file's bytes at commit ``sha``; None if absent. Anything else by that name
        (a symlink, a directory, a submodule) is refused: the worker would not follow it."""
        listing = git("--git-dir", str(self.path), "ls-tree", "-l", "-z", "--full-tree", sha,
                      "--", path)
        for record in listing.split("\0"):
            meta, _, name = record.partition("\t")
            if name != path:
                continue
            mode, kind, blob, size = meta.split()
            if mode not in REGULAR or kind != "blob":
                raise UsageError(f"{path} must be a regular file, not a "
                                 f"{'link' if mode == '120000' else kind}")
            if int(size) > limit:
                raise UsageError(f"{path} is {size} bytes; the limit is {limit}")
            done = subprocess.run(["git", "--git-dir", str(self.path), "cat-file", "blob", blob],
                                  capture_output=True, timeout=60, check=False, env=git_env())
            if done.returncode != 0:
                raise GitdeployError(f"git cat-file failed for {path}")
            return done.stdout
        return None

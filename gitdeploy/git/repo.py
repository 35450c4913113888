"""Reading the app's bare repository: refs, trees, small files and commits at a commit.

Plain git plumbing, one short process per question; the bulk paths (archive, cat-file --batch,
diff-tree) stream. dulwich answers the questions that need a walk (the commits between two
releases), imported only by the commands that ask them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

from gitdeploy.errors import GitdeployError, UsageError

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


def supports_proc_receive() -> bool:
    """git >= 2.29 runs a ``proc-receive`` hook (``receive.procReceiveRefs``)."""
    found = re.search(r"(\d+)\.(\d+)", git("version"))
    return found is not None and (int(found.group(1)), int(found.group(2))) >= (2, 29)


def local_config(repo: Path) -> dict[str, str]:
    """The repository's own config, keys lower-cased as git prints them."""
    out = git("--git-dir", str(repo), "config", "--local", "--null", "--list")
    pairs = (entry.partition("\n") for entry in out.split("\0") if entry)
    return {key: value for key, _, value in pairs}


def set_config(repo: Path, key: str, value: str) -> None:
    git("--git-dir", str(repo), "config", "--local", key, value)


def update_ref(repo: Path, ref: str, new: str, old: str | None = None) -> None:
    """Move (or, with ``new`` all zeros, delete) ``ref``; with ``old``, only from that
    value (all zeros: only if the ref does not exist yet)."""
    expect = [] if old is None else [old]
    if new == ZERO_SHA:
        git("--git-dir", str(repo), "update-ref", "-d", "--", ref, *expect)
    else:
        git("--git-dir", str(repo), "update-ref", "--", ref, new, *expect)


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


_REF_CHARS = re.compile(r"[A-Za-z0-9._/@{}^~-]{1,250}")
REGULAR = ("100644", "100755")


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._branches: set[str] | None = None
        self._files: dict[tuple[str, str], bytes | None] = {}

    def has_branch(self, name: str) -> bool:
        if self._branches is None:
            out = git("--git-dir", str(self.path), "for-each-ref", "--format=%(refname)",
                      "refs/heads/")
            self._branches = {line.removeprefix("refs/heads/") for line in out.splitlines()}
        return name in self._branches

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
        return self.read_files(sha, [path], limit)[path]

    def present(self, sha: str, paths: list[str]) -> set[str]:
        """Which of ``paths`` exist at commit ``sha`` (of any kind), with one ``ls-tree``."""
        listing = git("--git-dir", str(self.path), "ls-tree", "-z", "--name-only",
                      "--full-tree", sha, "--", *paths)
        return {name for name in listing.split("\0") if name in paths}

    def read_files(self, sha: str, paths: list[str], limit: int = 1 << 20
                   ) -> dict[str, bytes | None]:
        """``read_file`` for several paths: one ``ls-tree`` and one ``cat-file --batch`` for
        all of them, remembered for this repository object (a hook asks twice)."""
        wanted = [path for path in paths if (sha, path) not in self._files]
        if wanted:
            self._files.update(self._read_files(sha, wanted, limit))
        return {path: self._files[(sha, path)] for path in paths}

    def _read_files(self, sha: str, paths: list[str], limit: int
                    ) -> dict[tuple[str, str], bytes | None]:
        listing = git("--git-dir", str(self.path), "ls-tree", "-l", "-z", "--full-tree", sha,
                      "--", *paths)
        blobs: dict[str, str] = {}
        for record in listing.split("\0"):
            meta, _, name = record.partition("\t")
            if name not in paths:
                continue
            mode, kind, blob, size = meta.split()
            if mode not in REGULAR or kind != "blob":
                raise UsageError(f"{name} must be a regular file, not a "
                                 f"{'link' if mode == '120000' else kind}")
            if int(size) > limit:
                raise UsageError(f"{name} is {size} bytes; the limit is {limit}")
            blobs[name] = blob
        found: dict[tuple[str, str], bytes | None] = {(sha, path): None for path in paths}
        if blobs:
            done = subprocess.run(
                ["git", "--git-dir", str(self.path), "cat-file", "--batch"],
                input="".join(f"{blob}\n" for blob in blobs.values()).encode(),
                capture_output=True, timeout=60, check=False, env=git_env())
            if done.returncode != 0:
                raise GitdeployError(f"git cat-file failed for {', '.join(blobs)}")
            out, start = done.stdout, 0
            for name in blobs:  # "<sha> blob <size>\n<content>\n", in input order
                header_end = out.index(b"\n", start)
                length = int(out[start:header_end].split()[2])
                found[(sha, name)] = out[header_end + 1 : header_end + 1 + length]
                start = header_end + 1 + length + 1
        return found

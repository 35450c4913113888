"""The commits between two releases, walked in-process with dulwich.

One walk costs one import (dulwich, ~30 ms) and no processes; ``git log`` per question would
cost a process and output parsing. Only ``releases:info`` asks, so only it imports this.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitdeploy.errors import GitdeployError


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    subject: str


def commits_between(repo: Path, new: str, old: str, limit: int = 50) -> tuple[list[Commit], bool]:
    """Commits reachable from ``new`` and not from ``old``, newest first: at most ``limit``,
    and whether there were more."""
    from dulwich.errors import NotGitRepository
    from dulwich.objects import ObjectID
    from dulwich.repo import Repo

    try:
        with Repo(str(repo)) as git:
            walker = git.get_walker(include=[ObjectID(new.encode())],
                                    exclude=[ObjectID(old.encode())],
                                    max_entries=limit + 1)
            found = [Commit(entry.commit.id.decode(),
                            entry.commit.author.decode(errors="replace").split(" <")[0],
                            entry.commit.message.decode(errors="replace").split("\n", 1)[0])
                     for entry in walker]
    except (KeyError, NotGitRepository) as exc:
        raise GitdeployError(f"the app's repository no longer has {exc}") from None
    return found[:limit], len(found) > limit

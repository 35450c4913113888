"""Who is acting: an ssh key's name and rights."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Access:
    key: str
    admin: bool
    apps: frozenset[str]

    def can(self, app: str) -> bool:
        return self.admin or app in self.apps

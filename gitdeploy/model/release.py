"""A release and an app as the ledger records them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gitdeploy.model.states import GoLive, Status


def now() -> str:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-22T10:04:05.123Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Release:
    app: str
    version: int
    kind: str
    status: Status
    reason: str | None
    description: str
    commit: str | None
    user: str
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    config: dict[str, str] | None = None
    request: dict[str, Any] = field(default_factory=dict)
    postdeploy_status: str | None = None
    schema_changes: list[dict[str, Any]] | None = None
    golive: GoLive | None = None
    golive_previous: int | None = None  # what was live before it (with golive set)
    switched_at: str | None = None  # when the front door sent it traffic

    @property
    def name(self) -> str:
        return f"v{self.version}"


@dataclass
class AppRecord:
    name: str
    created_at: str
    last_version: int
    initial_config: dict[str, str]
    formation: dict[str, int]
    port_base: int | None


def previous_deploy(releases: list[Release], release: Release) -> Release | None:
    """The latest succeeded release before ``release`` with a commit (a config change or a
    rollback carries the commit it ran): what a deploy's changes are counted from."""
    earlier = [r for r in releases if r.version < release.version and r.commit is not None
               and r.status is Status.SUCCEEDED]
    return max(earlier, key=lambda r: r.version, default=None)

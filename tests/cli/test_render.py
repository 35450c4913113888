"""Names, retention, rendering and ref classification: pure functions, table-tested."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gitdeploy.cli.render import age, releases_table, table
from gitdeploy.model.release import Release
from gitdeploy.model.states import Status

Z = "0" * 40
A = "a" * 40


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s ago"), (59, "59s ago"), (60, "1m ago"), (7200, "2h ago"),
                          (3 * 86400, "3d ago")])
def test_age(seconds: int, text: str) -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    stamp = datetime.fromtimestamp(now.timestamp() - seconds, UTC).isoformat()
    assert age(stamp.replace("+00:00", "Z"), now) == text


def test_releases_table() -> None:
    def rel(version: int, status: Status, reason: str | None = None) -> Release:
        return Release("a", version, "deploy", status, reason, f"Deploy {version:07d}", A,
                       "alice", "2026-01-01T00:00:00.000Z")

    text = releases_table("a", [rel(2, Status.FAILED, "release command failed"),
                                rel(1, Status.SUCCEEDED)], 1,
                          datetime(2026, 1, 1, 0, 5, tzinfo=UTC))
    assert text.splitlines() == [
        "=== a Releases - Current: v1",
        "v2  Deploy 0000002  failed: release command failed  alice  "
        "2026-01-01 00:00:00 UTC (~ 5m ago)",
        "v1  Deploy 0000001                                  alice  "
        "2026-01-01 00:00:00 UTC (~ 5m ago)",
    ]
    assert table([]) == []

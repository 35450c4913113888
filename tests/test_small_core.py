"""Names, retention, rendering and ref classification: pure functions, table-tested."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gitdeploy import names
from gitdeploy.deploy import RefUpdate, classify, parse_ref_updates
from gitdeploy.errors import UsageError
from gitdeploy.ledger import Release
from gitdeploy.render import age, releases_table, table
from gitdeploy.retention import prunable, rollback_target
from gitdeploy.states import Status

Z = "0" * 40
A = "a" * 40


@pytest.mark.parametrize(
    ("check", "value", "ok"),
    [
        (names.app_name, "shop", True),
        (names.app_name, "a", True),
        (names.app_name, "shop-2", True),
        (names.app_name, "a" * 63, True),
        (names.app_name, "a" * 64, False),
        (names.app_name, "Shop", False),
        (names.app_name, "2shop", False),
        (names.app_name, "-x", False),
        (names.app_name, "../etc", False),
        (names.app_name, "a b", False),
        (names.app_name, "", False),
        (names.app_name, "a\n", False),
        (names.key_name, "alice@laptop", True),
        (names.key_name, "ci.bot_1-x", True),
        (names.key_name, "x" * 65, False),
        (names.key_name, "a/b", False),
        (names.key_name, "", False),
        (names.config_key, "_A1", True),
        (names.config_key, "1A", False),
        (names.config_key, "A-B", False),
    ],
)
def test_names(check: object, value: str, ok: bool) -> None:
    assert callable(check)
    if ok:
        assert check(value) == value
    else:
        with pytest.raises(UsageError):
            check(value)


@pytest.mark.parametrize(("text", "version"), [("v3", 3), ("3", 3), ("V12", 12)])
def test_version(text: str, version: int) -> None:
    assert names.version(text) == version


@pytest.mark.parametrize("text", ["v0", "x3", "v-1", "", "v1.0", "v" + "9" * 12])
def test_bad_version(text: str) -> None:
    with pytest.raises(UsageError):
        names.version(text)


@pytest.mark.parametrize(
    ("succeeded", "current", "target"),
    [([1, 2, 3], 3, 2), ([1, 3], 4, 3), ([1], 1, None), ([], None, None), ([2, 5], 4, 2)],
)
def test_rollback_target(succeeded: list[int], current: int | None, target: int | None) -> None:
    assert rollback_target(succeeded, current) == target


@pytest.mark.parametrize(
    ("versions", "keep", "current", "target", "pruned"),
    [
        ([1, 2, 3, 4, 5, 6, 7], 5, 7, 6, [2, 1]),
        ([1, 2, 3], 5, 3, 2, []),
        ([1, 2, 3, 4], 1, 2, 1, [3]),
        ([1, 2, 3, 4], 2, 4, 1, [2]),
        ([5, 4, 3], 1, None, None, [4, 3]),
    ],
)
def test_prunable(versions: list[int], keep: int, current: int | None, target: int | None,
                  pruned: list[int]) -> None:
    assert prunable(versions, keep, current, target) == pruned


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


def test_parse_ref_updates_skips_junk() -> None:
    assert parse_ref_updates(f"{Z} {A} refs/heads/main\njunk\n") == [
        RefUpdate(Z, A, "refs/heads/main")]


@pytest.mark.parametrize(
    ("update", "message"),
    [
        (RefUpdate(Z, A, "refs/heads/main"), None),
        (RefUpdate(A, A, "refs/heads/main"), None),
        (RefUpdate(A, Z, "refs/heads/main"), "branch main deleted; nothing to deploy"),
        (RefUpdate(Z, A, "refs/heads/dev"), "branch dev received; only pushes to main deploy"),
        (RefUpdate(Z, A, "refs/tags/v1"), "tag v1 received; only pushes to main deploy"),
        (RefUpdate(A, Z, "refs/tags/v1"), "tag v1 deleted; only pushes to main deploy"),
        (RefUpdate(Z, A, "refs/notes/x"), "ref refs/notes/x received; only pushes to main deploy"),
    ],
)
def test_classify(update: RefUpdate, message: str | None) -> None:
    assert classify(update, "main") == message

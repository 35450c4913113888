"""Names, retention, rendering and ref classification: pure functions, table-tested."""

from __future__ import annotations

import pytest

from gitdeploy.events.deploy import RefUpdate, classify, parse_ref_updates

Z = "0" * 40
A = "a" * 40


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

"""Names, retention, rendering and ref classification: pure functions, table-tested."""

from __future__ import annotations

import pytest

from gitdeploy.model.retention import prunable, rollback_target

Z = "0" * 40
A = "a" * 40


@pytest.mark.parametrize(
    ("succeeded", "current", "target"),
    [([1, 2, 3], 3, 2), ([1, 3], 4, 3), ([1], 1, None), ([], None, None), ([2, 5], 4, 2)],
)
def test_rollback_target(succeeded: list[int], current: int | None, target: int | None) -> None:
    assert rollback_target(succeeded, current) == target


@pytest.mark.parametrize(
    ("versions", "succeeded", "keep", "protected", "pruned"),
    [
        ([1, 2, 3, 4, 5, 6, 7], None, 5, [7, 6], [2, 1]),
        ([1, 2, 3], None, 5, [3, 2], []),
        ([1, 2, 3, 4], None, 1, [2, 1], [3]),
        ([1, 2, 3, 4], None, 2, [4, 1], [2]),
        ([5, 4, 3], None, 1, [None, None], [4, 3]),
        # failed releases (3..7) do not count toward keep, and are not kept for themselves
        ([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 8], 3, [8, 2], [7, 6, 5, 4, 3]),
        ([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 8], 2, [8, 2], [7, 6, 5, 4, 3, 1]),
        # what is in use (a running postdeploy, a queued rollback's target) stays
        ([1, 2, 3, 4], None, 1, [4, 3, 1], [2]),
    ],
)
def test_prunable(versions: list[int], succeeded: list[int] | None, keep: int,
                  protected: list[int | None], pruned: list[int]) -> None:
    done = versions if succeeded is None else succeeded
    assert prunable(versions, done, keep, protected) == pruned

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

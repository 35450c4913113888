"""Which releases' files to prune (pure): keep the newest N, the live one, the rollback target."""

from __future__ import annotations

from collections.abc import Iterable


def rollback_target(succeeded: Iterable[int], current: int | None) -> int | None:
    """The default rollback target: the newest succeeded release older than the current one."""
    if current is None:
        return None
    older = [v for v in succeeded if v < current]
    return max(older) if older else None


def prunable(
    with_files: Iterable[int], keep: int, current: int | None, target: int | None
) -> list[int]:
    """Versions whose directory and slug may go: all but the newest ``keep`` that have files,
    and never the live release or the default rollback target."""
    ordered = sorted(set(with_files), reverse=True)
    protected = set(ordered[:keep]) | {v for v in (current, target) if v is not None}
    return [v for v in ordered if v not in protected]

"""Which releases' files to prune (pure): keep the newest N succeeded, the live one, the
rollback target and whatever is still in use."""

from __future__ import annotations

from collections.abc import Iterable


def rollback_target(succeeded: Iterable[int], current: int | None) -> int | None:
    """The default rollback target: the newest succeeded release older than the current one."""
    if current is None:
        return None
    older = [v for v in succeeded if v < current]
    return max(older) if older else None


def prunable(with_files: Iterable[int], succeeded: Iterable[int], keep: int,
             protected: Iterable[int | None] = ()) -> list[int]:
    """Versions whose directory and slug may go, newest first: all that have files but the
    newest ``keep`` succeeded ones and the ``protected`` (the live release, the default
    rollback target, what a running postdeploy or a queued release uses). Failed releases
    never count toward ``keep``: five failed pushes must not prune the rollback targets."""
    ordered = sorted(set(with_files), reverse=True)
    done = set(succeeded)
    kept = [v for v in ordered if v in done][:keep]
    spared = set(kept) | {v for v in protected if v is not None}
    return [v for v in ordered if v not in spared]

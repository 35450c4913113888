"""The release state machine: statuses, allowed transitions, failure reasons, recovery."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING = "pending"
    BUILDING = "building"
    RELEASING = "releasing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self in (Status.SUCCEEDED, Status.FAILED)


class Reason(StrEnum):
    """Why a release failed (SPEC section 4 names the first five)."""

    BUILD_FAILED = "build failed"
    RELEASE_FAILED = "release command failed"
    RELEASE_TIMED_OUT = "release command timed out"
    INTERRUPTED = "interrupted"
    WEB_CHECK_FAILED = "web check failed"
    DATABASE_UNREACHABLE = "database unreachable"
    DATABASE_LOCK_TIMED_OUT = "database lock timed out"
    SOURCE_UNAVAILABLE = "source release unavailable"
    INVALID_APP_CONFIG = "invalid app configuration"
    SANDBOX_UNAVAILABLE = "sandbox unavailable"


class PostdeployStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed out"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class GoLive(StrEnum):
    """How far a release got in going live, recorded in the ledger before each step."""

    CHECKING = "checking"  # `current` is, or is about to be, this release; not yet checked
    PASSED = "passed"      # its processes run and its web check passed (or it has none)


_ALLOWED: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.BUILDING, Status.FAILED}),
    Status.BUILDING: frozenset({Status.RELEASING, Status.FAILED}),
    Status.RELEASING: frozenset({Status.SUCCEEDED, Status.FAILED}),
    Status.SUCCEEDED: frozenset(),
    Status.FAILED: frozenset(),
}


class TransitionError(Exception):
    """A programming error: the caller asked for a transition the state machine forbids."""


def check_transition(current: Status, new: Status, reason: Reason | None = None) -> None:
    """Raise TransitionError unless current -> new is allowed (a failure needs a reason)."""
    if new not in _ALLOWED[current]:
        raise TransitionError(f"release cannot go from {current} to {new}")
    if (new is Status.FAILED) != (reason is not None):
        raise TransitionError(f"a reason is required for, and only for, {Status.FAILED}")


def recovery(status: Status, worker_alive: bool, is_current: bool,
             golive: GoLive | None) -> Status | None:
    """What a dead worker's release becomes: None when there is nothing to repair.

    Only a release that is live *and* passed its web check is reconciled as succeeded. One
    whose worker died after the swap but before the check passed (while its processes
    started, during the check, or half-way back) fails: the caller hands `current` back.
    """
    if status.final or worker_alive:
        return None
    if is_current and status is Status.RELEASING and golive is GoLive.PASSED:
        return Status.SUCCEEDED
    return Status.FAILED

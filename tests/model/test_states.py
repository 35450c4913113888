from __future__ import annotations

import pytest

from gitdeploy.model.states import (
    GoLive,
    Reason,
    Status,
    TransitionError,
    check_transition,
    recovery,
)

S = Status


@pytest.mark.parametrize(
    ("current", "new", "reason", "allowed"),
    [
        (S.PENDING, S.BUILDING, None, True),
        (S.PENDING, S.FAILED, Reason.INTERRUPTED, True),
        (S.BUILDING, S.RELEASING, None, True),
        (S.BUILDING, S.FAILED, Reason.BUILD_FAILED, True),
        (S.RELEASING, S.SUCCEEDED, None, True),
        (S.RELEASING, S.FAILED, Reason.RELEASE_FAILED, True),
        (S.PENDING, S.RELEASING, None, False),
        (S.PENDING, S.SUCCEEDED, None, False),
        (S.BUILDING, S.SUCCEEDED, None, False),
        (S.SUCCEEDED, S.FAILED, Reason.WEB_CHECK_FAILED, False),
        (S.FAILED, S.FAILED, Reason.INTERRUPTED, False),
        (S.FAILED, S.SUCCEEDED, None, False),
        (S.RELEASING, S.FAILED, None, False),
        (S.RELEASING, S.SUCCEEDED, Reason.RELEASE_FAILED, False),
    ],
)
def test_transitions(current: Status, new: Status, reason: Reason | None, allowed: bool) -> None:
    if allowed:
        check_transition(current, new, reason)
    else:
        with pytest.raises(TransitionError):
            check_transition(current, new, reason)


C, P = GoLive.CHECKING, GoLive.PASSED


@pytest.mark.parametrize(
    ("status", "alive", "is_current", "golive", "outcome"),
    [
        (S.PENDING, True, False, None, None),
        (S.RELEASING, True, True, C, None),
        (S.SUCCEEDED, False, True, P, None),
        (S.FAILED, False, False, None, None),
        (S.PENDING, False, False, None, S.FAILED),
        (S.BUILDING, False, False, None, S.FAILED),
        (S.RELEASING, False, False, None, S.FAILED),
        (S.RELEASING, False, False, C, S.FAILED),     # died half-way back
        (S.RELEASING, False, True, P, S.SUCCEEDED),   # live and checked
        (S.RELEASING, False, True, C, S.FAILED),      # live, never checked: handed back
        (S.RELEASING, False, True, None, S.FAILED),   # an older ledger: nothing says checked
        (S.BUILDING, False, True, None, S.FAILED),
    ],
)
def test_recovery(status: Status, alive: bool, is_current: bool, golive: GoLive | None,
                  outcome: Status | None) -> None:
    assert recovery(status, alive, is_current, golive) is outcome


def test_reasons_match_the_contract() -> None:
    assert {r.value for r in Reason} >= {"build failed", "release command failed",
                                         "release command timed out", "interrupted",
                                         "web check failed"}

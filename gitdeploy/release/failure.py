"""How a release step says the release failed: a reason from the model and a sentence."""

from __future__ import annotations

from gitdeploy.model.states import Reason


class ReleaseFailure(Exception):
    def __init__(self, reason: Reason, detail: str | None = None) -> None:
        super().__init__(detail or reason.value)
        self.reason = reason
        self.detail = detail

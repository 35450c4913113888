"""The one error type users see: a sentence and an exit code. Only entry points print it."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class GitdeployError(Exception):
    """An expected failure with a user-facing message."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(GitdeployError):
    """Bad usage or bad input: exit code 2, nothing was changed."""

    exit_code = EXIT_USAGE


class OperationFailed(GitdeployError):
    """The operation ran and failed (e.g. the release it created failed)."""

    exit_code = EXIT_FAILED

"""Helpers shared by the integration tests: real components, never mocks."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """A real component is missing: skip on a developer machine, fail in CI."""
    if in_ci():
        pytest.fail(f"required component unavailable in CI: {reason}", pytrace=False)
    pytest.skip(reason)

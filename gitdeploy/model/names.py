"""Validation of the names users type: apps, keys, config vars, release versions."""

from __future__ import annotations

import re

from gitdeploy.errors import UsageError

APP_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
KEY_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
CONFIG_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
VERSION = re.compile(r"[vV]?([1-9][0-9]{0,8})")


def _shown(value: str) -> str:
    """A name as it may safely appear in a message: short and printable."""
    text = value if len(value) <= 40 else value[:40] + "..."
    return repr(text)


def app_name(value: str) -> str:
    if not APP_NAME.fullmatch(value):
        raise UsageError(
            f"invalid app name {_shown(value)}: use 1-63 lowercase letters, digits and '-', "
            "starting with a letter"
        )
    return value


def key_name(value: str) -> str:
    if not KEY_NAME.fullmatch(value):
        raise UsageError(
            f"invalid key name {_shown(value)}: use 1-64 letters, digits and '.', '_', '@', '-'"
        )
    return value


def config_key(value: str) -> str:
    if not CONFIG_KEY.fullmatch(value):
        raise UsageError(
            f"invalid config var name {_shown(value)}: it must match ^[A-Za-z_][A-Za-z0-9_]*$"
        )
    return value


def version(value: str) -> int:
    """'v3' or '3' -> 3."""
    match = VERSION.fullmatch(value)
    if not match:
        raise UsageError(f"invalid release version {_shown(value)}: expected e.g. v3")
    return int(match.group(1))

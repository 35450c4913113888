"""Validation of the names users type: apps, keys, config vars, release versions."""

from __future__ import annotations

import re

from gitdeploy.errors import UsageError

APP_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
KEY_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
CONFIG_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
VERSION = re.compile(r"[vV]?([1-9][0-9]{0,8})")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


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


def host_name(value: str) -> str:
    """A domain an app answers on: a DNS name (RFC 1123) of at least two labels, any case
    (kept in lowercase), optionally with a leading ``*.`` wildcard; not an IP address."""
    host = value.strip().lower().removesuffix(".")
    labels = host.split(".")
    wildcard = labels[0] == "*"
    checked = labels[1:] if wildcard else labels
    if (len(host) > 253 or len(checked) < 2 or not all(_LABEL.fullmatch(x) for x in checked)
            or checked[-1].isdigit()):
        raise UsageError(
            f"invalid domain {_shown(value)}: use a DNS name like shop.example.com (letters, "
            "digits and '-' in dot-separated labels; '*.' for a wildcard)")
    return host

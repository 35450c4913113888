"""Names, retention, rendering and ref classification: pure functions, table-tested."""

from __future__ import annotations

import pytest

from gitdeploy.errors import UsageError
from gitdeploy.model import names

Z = "0" * 40
A = "a" * 40


@pytest.mark.parametrize(
    ("check", "value", "ok"),
    [
        (names.app_name, "shop", True),
        (names.app_name, "a", True),
        (names.app_name, "shop-2", True),
        (names.app_name, "a" * 63, True),
        (names.app_name, "a" * 64, False),
        (names.app_name, "Shop", False),
        (names.app_name, "2shop", False),
        (names.app_name, "-x", False),
        (names.app_name, "../etc", False),
        (names.app_name, "a b", False),
        (names.app_name, "", False),
        (names.app_name, "a\n", False),
        (names.key_name, "alice@laptop", True),
        (names.key_name, "ci.bot_1-x", True),
        (names.key_name, "x" * 65, False),
        (names.key_name, "a/b", False),
        (names.key_name, "", False),
        (names.config_key, "_A1", True),
        (names.config_key, "1A", False),
        (names.config_key, "A-B", False),
    ],
)
def test_names(check: object, value: str, ok: bool) -> None:
    assert callable(check)
    if ok:
        assert check(value) == value
    else:
        with pytest.raises(UsageError):
            check(value)


@pytest.mark.parametrize(("text", "version"), [("v3", 3), ("3", 3), ("V12", 12)])
def test_version(text: str, version: int) -> None:
    assert names.version(text) == version


@pytest.mark.parametrize("text", ["v0", "x3", "v-1", "", "v1.0", "v" + "9" * 12])
def test_bad_version(text: str) -> None:
    with pytest.raises(UsageError):
        names.version(text)

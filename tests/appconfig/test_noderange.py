from __future__ import annotations

import pytest

from gitdeploy.appconfig.noderange import RangeError, parse_version, satisfies

NODE = (20, 19, 2)


@pytest.mark.parametrize(("spec", "ok"), [
    ("20", True), ("20.x", True), ("20.19.x", True), (">=18", True), (">= 18.0.0", True),
    (">=18 <20", False), ("^18.2", False), ("^20.1", True), ("~20.19.0", True),
    ("~20.18", False), ("18 - 20", True), ("16 || 18", False), ("16 || >=20", True),
    ("*", True), ("", True), ("<21", True), ("<=20.19.1", False), (">20", False),
    (">20.1", True), ("^0.1.2", False), ("v20.19.2", True), (">=22", False), ("20.19.3", False),
])
def test_ranges(spec: str, ok: bool) -> None:
    assert satisfies(NODE, spec) is ok


def test_versions_and_bad_ranges() -> None:
    assert parse_version("v20.20.2\n") == (20, 20, 2)
    with pytest.raises(RangeError):
        parse_version("twenty")
    with pytest.raises(RangeError):
        satisfies(NODE, ">=banana")

"""package.json's ``engines.node``: does an installed node satisfy a semver range? Pure.

The forms npm documents for engines: ``20``, ``20.x``, ``>=18 <21``, ``^18.2``, ``~20.1.0``,
``18 - 20``, ``*``, alternatives with ``||``. Pre-release tags are not considered.
"""

from __future__ import annotations

import re

Version = tuple[int, int, int]
_PART = re.compile(r"(<=|>=|<|>|=|\^|~>?|v)?\s*v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?"
                   r"(?:[-+][0-9A-Za-z.-]+)?")
_HUGE = 1 << 31


class RangeError(ValueError):
    pass


def parse_version(text: str) -> Version:
    """``v20.11.1`` -> (20, 11, 1)."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)\S*", text.strip())
    if match is None:
        raise RangeError(f"not a version: {text!r}")
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def satisfies(version: Version, spec: str) -> bool:
    """Whether ``version`` is in ``spec``; RangeError if spec is not a range npm accepts."""
    return any(_all(version, alternative.strip()) for alternative in spec.split("||"))


def _all(version: Version, text: str) -> bool:
    if text in ("", "*", "x", "X", "latest"):
        return True
    hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", text)
    if hyphen:
        low, _ = _bounds(hyphen.group(1))
        _, high = _bounds(hyphen.group(2))
        return low <= version < high
    text = re.sub(r"(<=|>=|<|>|=|\^|~>?)\s+", r"\1", text)
    return all(_one(version, part) for part in text.split())


def _numbers(match: re.Match[str]) -> list[int | None]:
    return [None if group is None or group in "xX*" else int(group)
            for group in match.group(2, 3, 4)]


def _bounds(text: str) -> tuple[Version, Version]:
    """[low, high) of a partial version such as 20 or 20.1 or 20.1.2."""
    match = _PART.fullmatch(text)
    if match is None or match.group(1) not in (None, "v", "="):
        raise RangeError(f"not a version range: {text!r}")
    major, minor, patch = _numbers(match)
    if major is None:
        return (0, 0, 0), (_HUGE, 0, 0)
    if minor is None:
        return (major, 0, 0), (major + 1, 0, 0)
    if patch is None:
        return (major, minor, 0), (major, minor + 1, 0)
    return (major, minor, patch), (major, minor, patch + 1)


def _one(version: Version, text: str) -> bool:
    match = _PART.fullmatch(text)
    if match is None:
        raise RangeError(f"not a version range: {text!r}")
    operator = match.group(1) or "="
    major, minor, patch = _numbers(match)
    low, high = _bounds(text.lstrip("<>=^~v"))
    if operator in ("=", "v"):
        return low <= version < high
    if operator == ">=":
        return version >= low
    if operator == ">":
        return version >= high
    if operator == "<":
        return version < low
    if operator == "<=":
        return version < high
    if operator.startswith("~"):  # ~1.2.3: >=1.2.3 <1.3.0; ~1: >=1.0.0 <2.0.0
        top = (low[0] + 1, 0, 0) if minor is None else (low[0], low[1] + 1, 0)
        return low <= version < top
    # ^: the left-most non-zero part is fixed
    assert major is not None or low == (0, 0, 0)
    if low[0] > 0 or minor is None:
        top = (low[0] + 1, 0, 0)
    elif low[1] > 0 or patch is None:
        top = (0, low[1] + 1, 0)
    else:
        top = (0, 0, low[2] + 1)
    return low <= version < top

"""Config vars: parsing ``K=V`` arguments, applying changes, describing them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gitdeploy.errors import UsageError
from gitdeploy.model import names

MAX_VALUE = 64 * 1024


@dataclass(frozen=True)
class ConfigChange:
    set: dict[str, str]
    unset: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.set:
            return f"Set {', '.join(self.set)} config vars"
        return f"Remove {', '.join(self.unset)} config vars"

    def apply(self, config: Mapping[str, str]) -> dict[str, str]:
        merged = {k: v for k, v in config.items() if k not in self.unset}
        merged.update(self.set)
        return merged


def parse_assignments(args: Iterable[str]) -> ConfigChange:
    """``["A=1", "B=x=y"]`` -> ConfigChange; the first '=' splits, the value may hold anything."""
    values: dict[str, str] = {}
    for arg in args:
        key, eq, value = arg.partition("=")
        if not eq:
            raise UsageError(f"expected KEY=VALUE, got {arg[:40]!r}")
        names.config_key(key)
        if "\0" in value:
            raise UsageError(f"the value of {key} contains a NUL byte, which cannot be stored")
        if len(value) > MAX_VALUE:
            raise UsageError(f"the value of {key} is longer than {MAX_VALUE} characters")
        values[key] = value
    if not values:
        raise UsageError("nothing to set: give at least one KEY=VALUE")
    return ConfigChange(set=values)


def parse_unset(args: Iterable[str], current: Mapping[str, str]) -> ConfigChange:
    keys = tuple(dict.fromkeys(names.config_key(k) for k in args))
    if not keys:
        raise UsageError("nothing to unset: give at least one KEY")
    missing = [k for k in keys if k not in current]
    if missing:
        raise UsageError(f"config var not set: {', '.join(missing)}")
    return ConfigChange(set={}, unset=keys)

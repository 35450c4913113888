"""Config vars: parsing ``K=V`` arguments, applying changes, describing them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gitdeploy.errors import UsageError
from gitdeploy.model import names

MAX_VALUE = 64 * 1024
REDACTED = "*****"


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


def stdin_key(args: Iterable[str]) -> str | None:
    """The one bare ``KEY`` (no '=') among config:set's arguments, whose value comes from
    stdin; None if every argument is KEY=VALUE."""
    bare = [arg for arg in args if "=" not in arg]
    if len(bare) > 1:
        raise UsageError(f"only one KEY can take its value from stdin, got {len(bare)} "
                         f"({', '.join(b[:40] for b in bare)}); give the others as KEY=VALUE")
    return names.config_key(bare[0]) if bare else None


def parse_assignments(args: Iterable[str], stdin_value: str | None = None) -> ConfigChange:
    """``["A=1", "B=x=y"]`` -> ConfigChange; the first '=' splits, the value may hold anything.
    A bare ``KEY`` takes ``stdin_value`` (one trailing newline dropped, as `echo` and files
    add one)."""
    values: dict[str, str] = {}
    for arg in args:
        key, eq, value = arg.partition("=")
        if not eq:
            if stdin_value is None:
                raise UsageError(f"expected KEY=VALUE, got {arg[:40]!r}")
            value = stdin_value.removesuffix("\n").removesuffix("\r")
            if not value:
                raise UsageError(f"no value on stdin for {key}: pipe it in "
                                 f"(config:set -a APP {key} < FILE)")
        values[check_value(key, value)] = value
    if not values:
        raise UsageError("nothing to set: give at least one KEY=VALUE")
    return ConfigChange(set=values)


def check_value(key: str, value: str) -> str:
    """``key`` if it is a valid name and ``value`` can be stored; else UsageError."""
    names.config_key(key)
    if "\0" in value:
        raise UsageError(f"the value of {key} contains a NUL byte, which cannot be stored")
    if len(value) > MAX_VALUE:
        raise UsageError(f"the value of {key} is longer than {MAX_VALUE} characters")
    try:
        value.encode()
    except UnicodeEncodeError:  # bytes of argv that are not UTF-8, kept as surrogates
        raise UsageError(f"the value of {key} is not valid UTF-8 text") from None
    return key


def redact_argv(argv: Iterable[str]) -> list[str]:
    """A command line without config values: after ``config:set``, each KEY=VALUE becomes
    KEY=*****. For logs and the process's visible command line."""
    words: list[str] = []
    setting = False
    for word in argv:
        key, eq, _ = word.partition("=")
        if setting and eq and names.CONFIG_KEY.fullmatch(key):
            word = f"{key}={REDACTED}"
        setting = setting or word == "config:set"
        words.append(word)
    return words


def parse_unset(args: Iterable[str], current: Mapping[str, str]) -> ConfigChange:
    keys = tuple(dict.fromkeys(names.config_key(k) for k in args))
    if not keys:
        raise UsageError("nothing to unset: give at least one KEY")
    missing = [k for k in keys if k not in current]
    if missing:
        raise UsageError(f"config var not set: {', '.join(missing)}")
    return ConfigChange(set={}, unset=keys)

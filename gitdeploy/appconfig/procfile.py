"""Procfile parsing (Heroku format): ``type: command`` per line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gitdeploy.errors import UsageError

PROCESS_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,29}")
# A command is handed to /bin/sh -c as one argument; Linux caps one argument at 128 KiB.
MAX_LINE = 32 * 1024
MAX_SIZE = 256 * 1024
# Process types with a special meaning: they are phases, not long-running processes.
PHASES = ("release", "postdeploy")


class ProcfileError(UsageError):
    """The Procfile is malformed; the message names every bad line."""


@dataclass(frozen=True)
class Procfile:
    entries: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def release(self) -> str | None:
        return self.entries.get("release")

    @property
    def postdeploy(self) -> str | None:
        return self.entries.get("postdeploy")

    @property
    def processes(self) -> dict[str, str]:
        """The long-running process types (everything but the phases)."""
        return {k: v for k, v in self.entries.items() if k not in PHASES}


def parse_procfile(data: bytes) -> Procfile:
    """Parse Procfile bytes. Raise ProcfileError naming each malformed line."""
    if len(data) > MAX_SIZE:
        raise ProcfileError(f"Procfile is {len(data)} bytes; the limit is {MAX_SIZE}")
    if b"\0" in data:
        where = data[: data.index(b"\0")].count(b"\n") + 1
        raise ProcfileError(f"Procfile line {where}: contains a NUL byte (is it a binary file?)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        where = data[: exc.start].count(b"\n") + 1
        raise ProcfileError(f"Procfile line {where}: not valid UTF-8 text") from None

    entries: dict[str, str] = {}
    first_seen: dict[str, int] = {}
    errors: list[str] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if len(line) > MAX_LINE:
            errors.append(f"line {number}: longer than {MAX_LINE} characters")
            continue
        kind, colon, command = line.partition(":")
        name, command = kind.strip(), command.strip()
        if not colon:
            errors.append(f"line {number}: expected 'type: command', got {_excerpt(line)}")
        elif not PROCESS_TYPE.fullmatch(name):
            errors.append(
                f"line {number}: invalid process type {_excerpt(name)} "
                "(letters, digits, '_' and '-', at most 30, starting with a letter or digit)"
            )
        elif not command:
            errors.append(f"line {number}: process type {name!r} has an empty command")
        elif name in entries:
            errors.append(
                f"line {number}: process type {name!r} is already defined on line "
                f"{first_seen[name]}"
            )
        else:
            entries[name] = command
            first_seen[name] = number
    if errors:
        raise ProcfileError("Procfile is invalid:\n  " + "\n  ".join(errors))
    warnings = () if entries else ("Procfile defines no process types",)
    return Procfile(entries, warnings)


def _excerpt(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")

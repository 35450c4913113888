"""gitdeploy.yml: the app's deploy settings, validated before anything is built."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitdeploy.errors import UsageError

FILENAME = "gitdeploy.yml"
MAX_SIZE = 64 * 1024
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|d)?")
_UNIT_SECONDS = {None: 1.0, "ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0,
                 "h": 3600.0, "d": 86400.0}
_BRANCH = re.compile(r"(?!/)(?!.*//)(?!.*\.\.)(?!.*/$)[A-Za-z0-9._/-]{1,200}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SettingsError(UsageError):
    """gitdeploy.yml is invalid; the message names each bad key."""


@dataclass(frozen=True)
class ReleaseSettings:
    timeout: float = 3600.0
    kill_grace: float = 10.0
    lock_timeout_ms: int = 5000
    statement_timeout_ms: int = 0
    database_lock_timeout: float = 600.0
    database_url_var: str = "DATABASE_URL"


@dataclass(frozen=True)
class PostdeploySettings:
    timeout: float = 86400.0
    on_new_release: str = "wait"


@dataclass(frozen=True)
class HealthcheckSettings:
    path: str | None = None
    timeout: float = 30.0
    settle: float = 3.0  # after answering, the web must stay up (no restart) this long


@dataclass(frozen=True)
class PythonSettings:
    collectstatic: bool = True  # Django apps: manage.py collectstatic --noinput in the build


BUILDERS = ("python", "node")


@dataclass(frozen=True)
class ProcessSettings:
    # types whose new instances start before the old ones stop (web always does behind the
    # front door); the others stop, then start: no two releases' workers at once
    overlap: tuple[str, ...] = ()


@dataclass(frozen=True)
class AppSettings:
    branch: str | None = None
    builders: tuple[str, ...] | None = None  # None: detected from the commit's files
    build: str | None = None
    keep_releases: int = 5
    release: ReleaseSettings = field(default_factory=ReleaseSettings)
    postdeploy: PostdeploySettings = field(default_factory=PostdeploySettings)
    healthcheck: HealthcheckSettings = field(default_factory=HealthcheckSettings)
    python: PythonSettings = field(default_factory=PythonSettings)
    processes: ProcessSettings = field(default_factory=ProcessSettings)


class _Invalid(Exception):
    pass


def _duration(value: Any) -> float:
    """Seconds from 600, 1.5, '10m', '500ms', '2h'. Positive only."""
    seconds = _non_negative_duration(value)
    if seconds <= 0:
        raise _Invalid(f"must be a positive duration (e.g. 600 or '10m'), got {value!r}")
    return seconds


def _non_negative_duration(value: Any) -> float:
    if isinstance(value, bool):
        raise _Invalid(f"must be a duration (e.g. 600 or '10m'), got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise _Invalid(f"must not be negative, got {value!r}")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if match:
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    raise _Invalid(f"must be a duration (e.g. 600 or '10m'), got {value!r}")


def _pg_timeout_ms(value: Any) -> int:
    """A PostgreSQL timeout in ms; 0, 'off' or false disables it."""
    if value is False or value is None or (isinstance(value, str) and value.strip() == "off"):
        return 0
    return round(_non_negative_duration(value) * 1000)


def _command(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise _Invalid(f"must be a non-empty command string, got {value!r}")
    return value


def _builders(value: Any) -> tuple[str, ...] | None:
    """``auto`` (detect), ``none``, a builder's name, or a list of them run in order."""
    if value == "auto":
        return None
    if value == "none" or value == []:
        return ()
    names = value if isinstance(value, list) else [value]
    if not all(isinstance(name, str) and name in BUILDERS for name in names) \
            or len(set(names)) != len(names):
        raise _Invalid(f"must be auto, none, {' or '.join(BUILDERS)}, or a list of them, "
                       f"got {value!r}")
    return tuple(names)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"must be true or false, got {value!r}")
    return value


def _branch(value: Any) -> str:
    if not isinstance(value, str) or not _BRANCH.fullmatch(value) or value.endswith(".lock"):
        raise _Invalid(f"must be a branch name such as 'main', got {value!r}")
    return value


def _keep(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise _Invalid(f"must be a whole number from 1 to 1000, got {value!r}")
    return value


def _env_name(value: Any) -> str:
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise _Invalid(f"must be an environment variable name, got {value!r}")
    return value


def _choice(*allowed: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in allowed:
            raise _Invalid(f"must be one of {', '.join(allowed)}, got {value!r}")
        return str(value)

    return check


def _http_path(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("/") or any(c in value for c in " \r\n"):
        raise _Invalid(f"must be a URL path starting with '/', got {value!r}")
    return value


def _settle(value: Any) -> float:
    seconds = _non_negative_duration(value)
    if seconds > 600:
        raise _Invalid(f"must be at most 10 minutes (0 turns it off), got {value!r}")
    return seconds


_Schema = Mapping[str, "Callable[[Any], Any] | _Schema"]

def _types(value: Any) -> tuple[str, ...]:
    from gitdeploy.appconfig.procfile import PROCESS_TYPE

    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(
            isinstance(item, str) and PROCESS_TYPE.fullmatch(item) and item not in (
                "release", "postdeploy") for item in items):
        raise _Invalid(f"must be a Procfile process type or a list of them, got {value!r}")
    return tuple(dict.fromkeys(items))


SCHEMA: _Schema = {
    "branch": _branch,
    "builder": _builders,
    "build": _command,
    "keep_releases": _keep,
    "release": {
        "timeout": _duration,
        "kill_grace": _duration,
        "lock_timeout": _pg_timeout_ms,
        "statement_timeout": _pg_timeout_ms,
        "database_lock_timeout": _duration,
        "database_url_var": _env_name,
    },
    "postdeploy": {
        "timeout": _duration,
        "on_new_release": _choice("wait", "cancel"),
    },
    "healthcheck": {
        "path": _http_path,
        "timeout": _duration,
        "settle": _settle,
    },
    "python": {
        "collectstatic": _bool,
    },
    "processes": {
        "overlap": _types,
    },
}
# Keys whose dataclass field is named differently from the YAML key.
_FIELD = {"lock_timeout": "lock_timeout_ms", "statement_timeout": "statement_timeout_ms",
          "builder": "builders"}


def _validate(data: Mapping[Any, Any], schema: _Schema, prefix: str,
              errors: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        rule = schema.get(key) if isinstance(key, str) else None
        if rule is None:
            import difflib  # only for a misspelt key

            close = difflib.get_close_matches(str(key), list(schema), n=1)
            hint = f" (did you mean {prefix + close[0]!r}?)" if close else ""
            errors.append(f"unknown key {dotted!r}{hint}")
        elif isinstance(rule, Mapping):
            if not isinstance(value, Mapping):
                errors.append(f"{dotted}: must be a mapping of settings, got {value!r}")
            else:
                values[key] = _validate(value, rule, f"{dotted}.", errors)
        else:
            try:
                values[_FIELD.get(key, key)] = rule(value)
            except _Invalid as exc:
                errors.append(f"{dotted}: {exc}")
    return values


def parse_settings(data: bytes | None) -> AppSettings:
    """Parse gitdeploy.yml bytes (None: no file). Raise SettingsError naming each bad key."""
    if data is None:
        return AppSettings()
    if len(data) > MAX_SIZE:
        raise SettingsError(f"{FILENAME} is {len(data)} bytes; the limit is {MAX_SIZE}")
    import yaml  # ~13 ms, paid only by apps that have a gitdeploy.yml

    try:
        loaded = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise SettingsError(f"{FILENAME} is not valid YAML{where}: {problem}") from None
    if loaded is None:
        return AppSettings()
    if not isinstance(loaded, Mapping):
        kind = type(loaded).__name__
        raise SettingsError(f"{FILENAME} must be a mapping of settings, got {kind}")
    errors: list[str] = []
    values = _validate(loaded, SCHEMA, "", errors)
    if errors:
        raise SettingsError(f"{FILENAME} is invalid:\n  " + "\n  ".join(errors))
    return AppSettings(
        branch=values.get("branch"),
        builders=values.get("builders"),
        build=values.get("build"),
        keep_releases=values.get("keep_releases", 5),
        release=ReleaseSettings(**values.get("release", {})),
        postdeploy=PostdeploySettings(**values.get("postdeploy", {})),
        healthcheck=HealthcheckSettings(**values.get("healthcheck", {})),
        python=PythonSettings(**values.get("python", {})),
        processes=ProcessSettings(**values.get("processes", {})),
    )

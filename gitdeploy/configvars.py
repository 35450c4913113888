"""Config vars: parsing ``K=V`` arguments, applying changes, describing them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gitdeploy import names
from gitdeploy.errors import UsageError

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


DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
POSTGRES_SCHEMES = ("postgres", "postgresql")


def postgres_url(config: Mapping[str, str], variable: str) -> str | None:
    """The app's database URL if ``variable`` holds a postgres:// one."""
    value = config.get(variable, "").strip()
    scheme = value.partition("://")[0].lower()
    return value if "://" in value and scheme in POSTGRES_SCHEMES else None


def release_environment(
    config: Mapping[str, str], *, app: str, version: int, commit: str | None,
    base: Mapping[str, str],
) -> dict[str, str]:
    """The environment of the release's commands: a minimal base, then the app's config vars,
    then gitdeploy's own variables (which config cannot override)."""
    env = {
        "PATH": base.get("PATH", DEFAULT_PATH),
        "HOME": base.get("HOME", "/"),
        "LANG": base.get("LANG", "C.UTF-8"),
        "PYTHONUNBUFFERED": "1",
    }
    if "USER" in base:
        env["USER"] = base["USER"]
    env.update(config)
    env.update({
        "GITDEPLOY_APP": app,
        "GITDEPLOY_RELEASE": f"v{version}",
        "GITDEPLOY_COMMIT": commit or "",
    })
    return env


def render_env_file(env: Mapping[str, str]) -> bytes:
    """systemd EnvironmentFile= text: KEY="value" with the shell double-quote escapes, so
    values keep '=', spaces, newlines, quotes, '$' and backslashes exactly."""
    lines = []
    for key in sorted(env):
        value = env[key]
        for char in ("\\", '"', "`", "$"):
            value = value.replace(char, "\\" + char)
        lines.append(f'{key}="{value}"\n')
    return "".join(lines).encode()

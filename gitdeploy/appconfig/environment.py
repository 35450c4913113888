"""The environment of app code: a fixed base, the app's config vars, gitdeploy's own
variables; and the env file systemd reads it from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
POSTGRES_SCHEMES = ("postgres", "postgresql")


def postgres_url(config: Mapping[str, str], variable: str) -> str | None:
    """The app's database URL if ``variable`` holds a postgres:// one."""
    value = config.get(variable, "").strip()
    scheme = value.partition("://")[0].lower()
    return value if "://" in value and scheme in POSTGRES_SCHEMES else None


@dataclass(frozen=True)
class Account:
    """The server's OS account, from the password database (never the caller's HOME)."""
    name: str | None
    home: str


def app_path(files: str | None) -> str:
    """PATH for app code: the release's own virtualenv and node_modules first (a Heroku
    Procfile's ``gunicorn`` or ``python`` is the app's), then the system's."""
    if files is None:
        return DEFAULT_PATH
    return f"{files}/.venv/bin:{files}/node_modules/.bin:{DEFAULT_PATH}"


def server_environment(account: Account, home: str | None = None,
                       files: str | None = None) -> dict[str, str]:
    """The fixed base of every app command's environment: the same whoever pushed or ran
    ``config:set`` and whatever their shell held. ``home``: HOME as app code sees it (its
    release, /app, in a sandbox), else the account's; ``files``: where it sees its
    release."""
    env = {"PATH": app_path(files), "HOME": home or account.home or "/", "LANG": "C.UTF-8",
           "PYTHONUNBUFFERED": "1"}
    if account.name:
        env.update(USER=account.name, LOGNAME=account.name)
    return env


def release_environment(
    config: Mapping[str, str], *, app: str, version: int, commit: str | None, account: Account,
    home: str | None, data: str, files: str | None = None,
) -> dict[str, str]:
    """The environment of the release's commands and processes: the server's fixed base,
    then the app's config vars (which may set PATH or HOME), then gitdeploy's own variables
    (which config cannot override). ``home``, ``data``, ``files``: HOME, the data directory
    and the release's files as app code sees them."""
    env = server_environment(account, home, files)
    env.update(config)
    env.update({
        "GITDEPLOY_APP": app,
        "GITDEPLOY_RELEASE": f"v{version}",
        "GITDEPLOY_COMMIT": commit or "",
        "GITDEPLOY_DATA": data,
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

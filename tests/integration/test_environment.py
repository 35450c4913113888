"""The environment of app code is the server's fixed one plus the app's config vars, whoever
pushed or changed config and whatever their shell had in PATH, HOME or VIRTUAL_ENV."""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable
from pathlib import Path

from tests.support.gd import AppRepo, Server

MakeApp = Callable[..., AppRepo]

SHOW = ('release: echo "path=$PATH home=$HOME venv=${VIRTUAL_ENV-unset} lang=$LANG '
        'user=$USER marker=${OPERATOR_MARKER-unset} git=${GIT_DIR-unset}"\n')


def polluted(tmp_path: Path) -> dict[str, str]:
    """An operator's shell: a venv first in PATH, another HOME, stray variables."""
    venv = tmp_path / "operator-venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    return {**os.environ, "PATH": f"{venv}/bin:{os.environ['PATH']}", "HOME": str(tmp_path),
            "VIRTUAL_ENV": str(venv), "OPERATOR_MARKER": "leaked", "LANG": "de_DE.UTF-8"}


def expected_line() -> str:
    """HOME is the release itself (/app in the sandbox), its .venv and node_modules first on
    PATH; the account's name stays."""
    account = pwd.getpwuid(os.getuid())
    return ("path=/app/.venv/bin:/app/node_modules/.bin:/usr/local/bin:/usr/bin:/bin "
            "home=/app venv=unset "
            f"lang=C.UTF-8 user={account.pw_name} marker=unset git=unset")


def env_file(server: Server, version: int) -> dict[str, str]:
    """The release's env file: bubblewrap's ``--setenv NAME VALUE`` arguments, NUL-separated
    (what a process's sandbox reads on stdin)."""
    words = (server.root / f"apps/app/releases/v{version}.env").read_bytes().split(b"\0")
    assert words[-1] == b"" and words[0:-1:3] == [b"--setenv"] * (len(words) // 3)
    pairs = zip(words[1:-1:3], words[2:-1:3], strict=True)
    return {name.decode(): value.decode() for name, value in pairs}


def test_push_and_config_set_with_an_operators_shell_give_the_fixed_environment(
        make_app: MakeApp, server: Server, tmp_path: Path) -> None:
    repo = make_app("app", {"Procfile": SHOW})
    pushed = repo.push(env=polluted(tmp_path)).stderr
    assert expected_line() in pushed
    server.env = polluted(tmp_path)
    changed = server.gd("config:set", "-a", "app", "GREETING=hi").stdout
    assert expected_line() in changed
    for version in (1, 2):
        env = env_file(server, version)
        assert env["PATH"] == "/app/.venv/bin:/app/node_modules/.bin:/usr/local/bin:/usr/bin:/bin"
        assert env["HOME"] == "/app"
        assert env["GITDEPLOY_DATA"] == "/data"
        assert "VIRTUAL_ENV" not in env and "OPERATOR_MARKER" not in env
    assert env_file(server, 2)["GREETING"] == "hi"


def test_config_vars_may_set_path_and_home(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": SHOW})
    server.gd("config:set", "-a", "app", "PATH=/srv/app/.venv/bin:/usr/bin:/bin", "HOME=/srv")
    assert "path=/srv/app/.venv/bin:/usr/bin:/bin home=/srv venv=unset" in repo.push().stderr

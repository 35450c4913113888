from __future__ import annotations

import pytest

from gitdeploy.appconfig.environment import Account, release_environment, render_env_file


def test_release_environment_layers() -> None:
    env = release_environment({"PATH": "/app/bin", "GITDEPLOY_APP": "spoof", "X": "1",
                               "GITDEPLOY_DATA": "/etc"},
                              app="a", version=3, commit="c" * 40,
                              account=Account("deploy", "/home/deploy"), home="/app",
                              data="/data")
    assert env["PATH"] == "/app/bin" and env["X"] == "1"
    assert env["GITDEPLOY_APP"] == "a" and env["GITDEPLOY_RELEASE"] == "v3"
    assert env["GITDEPLOY_DATA"] == "/data"


def test_the_base_is_the_servers_not_the_callers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/home/op/.venv/bin:/usr/bin")
    monkeypatch.setenv("HOME", "/home/op")
    monkeypatch.setenv("VIRTUAL_ENV", "/home/op/.venv")
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    env = release_environment({}, app="a", version=1, commit=None,
                              account=Account("deploy", "/home/deploy"), home="/app",
                              data="/data")
    assert env == {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/app",
                   "USER": "deploy", "LOGNAME": "deploy", "LANG": "C.UTF-8",
                   "PYTHONUNBUFFERED": "1", "GITDEPLOY_APP": "a", "GITDEPLOY_RELEASE": "v1",
                   "GITDEPLOY_COMMIT": "", "GITDEPLOY_DATA": "/data"}
    unsandboxed = release_environment({}, app="a", version=1, commit=None,
                                      account=Account("deploy", "/home/deploy"), home=None,
                                      data="/srv/apps/a/data")
    assert unsandboxed["HOME"] == "/home/deploy"


def test_env_file_escapes() -> None:
    text = render_env_file({"B": 'say "hi" $HOME `x` \\n', "A": "multi\nline"}).decode()
    assert text == 'A="multi\nline"\nB="say \\"hi\\" \\$HOME \\`x\\` \\\\n"\n'


def test_the_releases_venv_and_node_modules_come_first_on_path() -> None:
    env = release_environment({}, app="a", version=1, commit=None,
                              account=Account("deploy", "/home/deploy"), home="/app",
                              data="/data", files="/app")
    assert env["PATH"] == ("/app/.venv/bin:/app/node_modules/.bin:"
                           "/usr/local/bin:/usr/bin:/bin")
    assert "VIRTUAL_ENV" not in env

from __future__ import annotations

from gitdeploy.appconfig.environment import release_environment, render_env_file


def test_release_environment_layers() -> None:
    env = release_environment({"PATH": "/app/bin", "GITDEPLOY_APP": "spoof", "X": "1"},
                              app="a", version=3, commit="c" * 40,
                              base={"PATH": "/usr/bin", "HOME": "/home/d", "SECRET": "no"})
    assert env["PATH"] == "/app/bin" and env["X"] == "1" and env["HOME"] == "/home/d"
    assert env["GITDEPLOY_APP"] == "a" and env["GITDEPLOY_RELEASE"] == "v3"
    assert "SECRET" not in env


def test_env_file_escapes() -> None:
    text = render_env_file({"B": 'say "hi" $HOME `x` \\n', "A": "multi\nline"}).decode()
    assert text == 'A="multi\nline"\nB="say \\"hi\\" \\$HOME \\`x\\` \\\\n"\n'

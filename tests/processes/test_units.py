"""Unit files as rendered: the command in the app's sandbox, and who it runs as."""

from __future__ import annotations

import shlex
from pathlib import Path

from gitdeploy.processes import units
from gitdeploy.resources import unit_template
from gitdeploy.sandbox.bwrap import Sandbox

WEB = units.Process("web", 1, "gunicorn shop.wsgi --log-file -", 5000)


def render(sandbox: Sandbox | None, user: str | None = None) -> str:
    files = units.services("shop", [WEB], workdir=Path("/srv/apps/shop/current"),
                           env_file=Path("/srv/apps/shop/current.env"), log_dir=None,
                           service_template=unit_template("process.service.in"),
                           sandbox=sandbox, user=user)
    return files[0].text


def exec_argv(text: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart=").replace("$$", "$"))


def test_a_process_runs_in_the_sandbox_of_the_live_release() -> None:
    box = Sandbox(files=Path("/srv/apps/shop/current"), data=Path("/srv/apps/shop/data"))
    argv = exec_argv(render(box))
    assert argv[0] == "/usr/bin/bwrap"
    assert _around(argv, "/srv/apps/shop/current") == ["--ro-bind", "/srv/apps/shop/current",
                                                       "/app"]
    assert _around(argv, "/srv/apps/shop/data") == ["--bind", "/srv/apps/shop/data", "/data"]
    # systemd stops the unit itself: SIGTERM must reach the app, not a torn-down sandbox
    assert "--die-with-parent" not in argv
    assert argv[argv.index("--") + 1:] == ["/usr/bin/env", "PORT=5000", "DYNO=web.1",
                                           "/bin/sh", "-c", WEB.command]


def _around(argv: list[str], word: str) -> list[str]:
    at = argv.index(word)
    return argv[at - 1: at + 2]


def test_without_a_sandbox_the_command_is_as_before() -> None:
    argv = exec_argv(render(None))
    assert argv == ["/usr/bin/env", "PORT=5000", "DYNO=web.1", "/bin/sh", "-c", WEB.command]


def test_system_units_name_their_user_and_user_units_do_not() -> None:
    assert "\nUser=deploy\n" in render(None, user="deploy")
    assert "User=" not in render(None)


def test_a_carriage_return_in_a_command_stays_in_its_argument() -> None:
    """systemd ends a unit file's line at a carriage return: escaped, it cannot start a new
    setting (an ExecStart= of the app's choosing, outside its sandbox)."""
    sneaky = units.Process("web", 1, "echo hi\rExecStartPre=/bin/touch /tmp/pwned", 5000)
    text = units.services("shop", [sneaky], workdir=Path("/srv/apps/shop/current"),
                          env_file=Path("/srv/apps/shop/current.env"), log_dir=None,
                          service_template=unit_template("process.service.in"),
                          sandbox=None)[0].text
    assert "\r" not in text and "\nExecStartPre" not in text
    assert 'echo hi\\rExecStartPre=/bin/touch /tmp/pwned"' in text

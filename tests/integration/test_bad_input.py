"""The bad-input catalogue, through real pushes and commands.

Each case pushes something hostile or broken and states what must happen: a clear sentence,
the right outcome and exit code, nothing lost (the live release untouched), nothing hung.
The pure parsers have their own, larger tables (tests/test_procfile.py, test_settings.py,
test_sshcommand.py, test_small_core.py); this is what a user sees end to end.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.gd import GIT_IDENTITY, AppRepo, Server, run
from tests.support.procscan import pids_holding, unique_sleep

MakeApp = Callable[..., AppRepo]
GOOD = {"Procfile": "release: echo fine\n", "ok.txt": "ok\n"}
DAEMON = unique_sleep(61)  # this run's alone: none of another run left behind


@dataclass
class Case:
    name: str
    files: dict[str, str | bytes] = field(default_factory=dict)
    outcome: str = "released"  # released | refused | failed
    says: tuple[str, ...] = ()
    reason: str | None = None
    cli_exit: int | None = None  # `gitdeploy deploy -a app SHA` exit code, when checked


CASES = [
    # Procfile
    Case("empty Procfile", {"Procfile": ""}, says=("Procfile defines no process types",)),
    Case("Procfile without a colon", {"Procfile": "release echo\n"}, "refused",
         ("Procfile is invalid", "line 1: expected 'type: command'"), cli_exit=2),
    Case("Procfile duplicate type", {"Procfile": "web: a\nweb: b\n"}, "refused",
         ("line 2: process type 'web' is already defined on line 1",), cli_exit=2),
    Case("Procfile bad type name", {"Procfile": "we b: a\n"}, "refused",
         ("invalid process type 'we b'",), cli_exit=2),
    Case("Procfile with CRLF", {"Procfile": "release: echo crlf\r\n"}, says=("       crlf",)),
    Case("Procfile with a BOM", {"Procfile": "\ufeffrelease: echo bom\n"},
         says=("       bom",)),
    Case("Procfile with a 1 MB line", {"Procfile": "release: echo " + "x" * (1 << 20) + "\n"},
         "refused", ("bytes; the limit is",), cli_exit=2),
    Case("binary Procfile", {"Procfile": b"\x7fELF\x00\x01\x02"}, "refused",
         ("contains a NUL byte",), cli_exit=2),
    Case("Procfile that is not UTF-8", {"Procfile": b"release: echo \xff\xfe\n"}, "refused",
         ("not valid UTF-8",), cli_exit=2),
    Case("Procfile is a symlink out of the tree", {"Procfile": "->/etc/passwd"}, "refused",
         ("Procfile must be a regular file, not a link",), cli_exit=2),
    # gitdeploy.yml
    Case("gitdeploy.yml is not YAML", {"gitdeploy.yml": "release: [1, 2\n"}, "refused",
         ("is not valid YAML",), cli_exit=2),
    Case("gitdeploy.yml wrong types", {"gitdeploy.yml": "keep_releases: many\n"}, "refused",
         ("keep_releases: must be a whole number",), cli_exit=2),
    Case("gitdeploy.yml unknown key", {"gitdeploy.yml": "relase:\n  timeout: 1\n"}, "refused",
         ("unknown key 'relase' (did you mean 'release'?)",), cli_exit=2),
    Case("gitdeploy.yml negative timeout", {"gitdeploy.yml": "release:\n  timeout: -5\n"},
         "refused", ("release.timeout: must not be negative",), cli_exit=2),
    Case("gitdeploy.yml is a list", {"gitdeploy.yml": "- a\n"}, "refused",
         ("must be a mapping of settings",), cli_exit=2),
    # the tree
    Case("symlink pointing outside the tree", {"escape": "->/etc/passwd"},
         says=("Released",)),
    Case("files named like dots and options", {
        "...": "dots\n", "..foo": "x\n", "-rf": "x\n", "--checkpoint-action=exec=id": "x\n",
        " leading space": "x\n", "a\nnewline": "x\n"}, says=("Released",)),
    Case("file names that are not UTF-8", {b"caf\xe9.txt".decode("latin-1"): "x\n"},
         says=("Released",)),
    Case("a submodule", {".gitmodules": '[submodule "lib"]\n\tpath = lib\n\turl = ../lib\n'},
         says=("git submodules are not deployed",)),
    # release output
    Case("output that is not UTF-8", {"Procfile": "release: printf 'bad \\377\\376 bytes\\n'\n"},
         says=("bad \ufffd\ufffd bytes",)),
    Case("a 1 MB line without a newline",
         {"Procfile": "release: head -c 1048576 /dev/zero | tr '\\0' y\n"},
         says=("yyyyyyyy",)),
    Case("carriage-return progress bars",
         {"Procfile": "release: printf '10%%\\r50%%\\r100%%\\n'\n"}, says=("       50%",)),
    Case("NUL bytes in output", {"Procfile": "release: printf 'a\\000b\\n'\n"},
         says=("a\ufffdb",)),
    # release commands
    Case("release command closes stdout early",
         {"Procfile": "release: exec >&- 2>&-; sleep 0.5; exit 0\n"}, says=("Released",)),
    Case("release command forks a daemon holding the pipe",
         {"Procfile": f"release: setsid sh -c '{DAEMON}; echo late' & echo started\n"},
         says=("started", "Released")),
    Case("release command killed by a signal", {"Procfile": "release: kill -9 $$\n"}, "failed",
         ("release command was killed by signal SIGKILL",), reason="release command failed",
         cli_exit=1),
    Case("release command reads stdin", {"Procfile": "release: cat; echo after\n"},
         says=("after",)),
    Case("release command is not found", {"Procfile": "release: no-such-command\n"}, "failed",
         ("exited with status 127",), reason="release command failed", cli_exit=1),
    Case("build command fails", {"gitdeploy.yml": "build: exit 7\n"}, "failed",
         ("build command exited with status 7",), reason="build failed", cli_exit=1),
]


def write(work: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = os.path.join(os.fsencode(work), os.fsencode(name))  # bytes: any name at all
        if os.path.lexists(path):
            os.unlink(path)
        if isinstance(content, str) and content.startswith("->"):
            os.symlink(content[2:], path)
        else:
            with open(path, "wb") as handle:
                handle.write(content if isinstance(content, bytes) else content.encode())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_catalogue(make_app: MakeApp, server: Server, case: Case) -> None:
    repo = make_app("app", GOOD)
    repo.push()
    write(repo.work, case.files)
    run(["git", "add", "-A"], cwd=repo.work)
    run(["git", "commit", "-q", "-m", case.name], cwd=repo.work,
        env={**os.environ, **GIT_IDENTITY})
    sha = run(["git", "rev-parse", "HEAD"], cwd=repo.work).stdout.strip()
    started = time.monotonic()
    text = repo.push(timeout=60, fails=case.outcome != "released").stderr
    assert time.monotonic() - started < 30, "hung"
    for phrase in case.says:
        assert phrase in text, (phrase, text[-3000:])
    assert "Traceback" not in text and "internal error" not in text
    releases = server.releases("app")
    if case.outcome == "released":
        assert releases[0]["version"] == 2 and releases[0]["status"] == "succeeded"
        assert server.current("app") == "releases/v2"
    elif case.outcome == "refused":
        assert [r["version"] for r in releases] == [1]  # nothing was built or recorded
        assert "was not deployed" in text
    else:
        assert (releases[0]["status"], releases[0]["reason"]) == ("failed", case.reason)
        assert server.current("app") == "releases/v1"  # nothing lost
        assert "v1 is still live" in text
    if case.cli_exit is not None:
        result = server.gd("deploy", "-a", "app", sha, check=False, timeout=60)
        assert result.returncode == case.cli_exit, (result.returncode, result.stderr)
        assert "Traceback" not in result.stderr
    assert pids_holding(DAEMON) == {}  # the sandbox took the daemon along


def test_a_deleted_branch_a_tag_and_other_branches_deploy_nothing(make_app: MakeApp,
                                                                  server: Server) -> None:
    repo = make_app("app", GOOD)
    repo.push()
    run(["git", "tag", "v9"], cwd=repo.work)
    run(["git", "branch", "topic"], cwd=repo.work)
    text = repo.push("v9", "topic").stderr + repo.push(":topic").stderr
    assert "tag v9 received" in text and "branch topic received" in text
    assert "branch topic deleted" in text
    deleted = repo.push(":main", check=False).stderr
    assert "(the deploy branch main cannot be deleted)" in deleted
    assert [r["version"] for r in server.releases("app")] == [1]


def test_force_push_and_an_orphan_commit_deploy(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", GOOD)
    repo.push()
    repo.commit({"ok.txt": "second\n"})
    repo.push()
    run(["git", "reset", "-q", "--hard", "HEAD~1"], cwd=repo.work)
    repo.commit({"ok.txt": "rewritten\n"})
    assert "Released v3" in repo.push("+main").stderr
    run(["git", "checkout", "-q", "--orphan", "fresh"], cwd=repo.work)
    run(["git", "rm", "-rq", "--cached", "."], cwd=repo.work)
    for path in repo.work.iterdir():
        if path.name != ".git":
            path.unlink()
    repo.commit({"Procfile": "release: echo orphan\n", "only.txt": "new root\n"})
    text = repo.push("+fresh:main").stderr
    assert "Released v4" in text and "orphan" in text
    assert sorted(p.name for p in (server.root / "apps/app/current").iterdir()) == [
        "Procfile", "only.txt"]


def test_a_non_utf8_branch_name_is_acknowledged(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", GOOD)
    repo.push()
    branch = os.fsdecode(b"topic-\xff")
    subprocess.run(["git", "branch", branch], cwd=repo.work, check=True)
    text = subprocess.run(["git", "push", "deploy", branch], cwd=repo.work,
                          capture_output=True, check=True).stderr.decode(errors="replace")
    assert "received; only pushes to main deploy" in text
    assert "Traceback" not in text


@pytest.mark.slow
def test_a_200_mib_file_deploys(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", GOOD)
    with (repo.work / "big.bin").open("wb") as handle:
        for _ in range(200):
            handle.write(os.urandom(1 << 20))
    repo.commit(message="big")
    assert "Released v1" in repo.push(timeout=300).stderr
    assert (server.root / "apps/app/current/big.bin").stat().st_size == 200 << 20


CLI_CASES = [
    (["apps:create", ""], "invalid app name"),
    (["apps:create", "-x"], "the following arguments are required: APP"),
    (["apps:create", "UPPER"], "invalid app name"),
    (["keys:add", "a b"], "invalid key name"),
    (["releases", "-a", "app", "-n", "0"], "-n must be at least 1"),
    (["releases", "-a", "app", "-n", "x"], "invalid int value"),
    (["releases:info", "-a", "app", "vX"], "invalid release version"),
    (["rollback", "-a", "app", "v0"], "invalid release version"),
    (["config:set", "-a", "app", "=x"], "invalid config var name"),
    (["ps:scale", "-a", "app", "web=-1"], "expected TYPE=N"),
    (["logs", "-a", "app", "-n", "0"], "-n must be at least 1"),
    (["deploy", "-a", "app", "--", "-rf"], "invalid git reference"),
    (["deploy", "-a", "app", "HEAD~99"], "no commit named"),
    (["promote", "-a", "app"], "the following arguments are required: --to"),
]


@pytest.mark.parametrize(("args", "message"), CLI_CASES, ids=lambda v: str(v)[:30])
def test_cli_bad_input_exits_2(make_app: MakeApp, server: Server, args: list[str],
                               message: str) -> None:
    make_app("app", GOOD).push()
    result = server.gd(*args, check=False)
    assert result.returncode == 2, (args, result)
    assert message in result.stderr, result.stderr
    assert result.stderr.count("\n") <= 2 and "Traceback" not in result.stderr

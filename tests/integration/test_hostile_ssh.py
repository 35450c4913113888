"""Hostile ssh input against the real forced command, with traps for anything it might run.

The dispatcher is the real `gitdeploy ssh-command` process. PATH starts with a directory of
trap programs (sh, bash, rm, touch, curl, ...) that leave a canary file if they ever run,
HOME and the working directory are an empty sandbox that must stay empty, and ROOT may only
change where the key's allowed commands write.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.access.test_dispatch import COMMANDS
from tests.support.gd import GITDEPLOY, Server, run
from tests.support.sshd import make_client_key

TRAPS = ("sh", "bash", "dash", "rm", "touch", "id", "curl", "wget", "nc", "cat", "perl",
         "python3", "chmod", "cp", "mv", "ln", "tee", "dd", "env", "xargs", "find")
SECRET = "tok-s3cr3t-8812"


@dataclass
class Target:
    server: Server
    sandbox: Path
    canaries: Path
    env: dict[str, str]

    def ssh_command(self, key: str, raw: bytes) -> subprocess.CompletedProcess[bytes]:
        env = {**self.env, "SSH_ORIGINAL_COMMAND": os.fsdecode(raw)}
        return subprocess.run([GITDEPLOY, "--root", str(self.server.root), "ssh-command",
                               "--key", key], env=env, cwd=self.sandbox / "home",
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
                              check=False)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    base = tmp_path_factory.mktemp("hostile")
    server = Server(base / "root")
    sandbox, canaries, traps = base / "sandbox", base / "canaries", base / "traps"
    for directory in (sandbox / "home", canaries, traps):
        directory.mkdir(parents=True)
    for name in TRAPS:
        trap = traps / name
        trap.write_text(f"#!/bin/sh\n: > {canaries}/{name}\n")
        trap.chmod(0o755)
    server.env["GITDEPLOY_AUTHORIZED_KEYS"] = str(base / "authorized_keys")
    repo = server.create_app("shop", base / "work")
    repo.commit({"Procfile": "release: true\n"})
    repo.push()
    server.gd("config:set", "-a", "shop", f"API_TOKEN={SECRET}")
    server.gd("apps:create", "blog")
    for key, rights in (("alice", ["--apps", "shop"]), ("bob", ["--apps", "blog"])):
        _, public = make_client_key(str(base), key)
        server.gd("keys:add", key, *rights, input=public)
    env = {"PATH": f"{traps}:/usr/local/bin:/usr/bin:/bin", "HOME": str(sandbox / "home"),
           "LANG": "C.UTF-8", "GITDEPLOY_SYSTEMD": "off"}
    yield Target(server, sandbox, canaries, env)


def assert_nothing_escaped(target: Target) -> None:
    assert list(target.canaries.iterdir()) == [], "a trapped program ran"
    assert list(target.sandbox.rglob("*")) == [target.sandbox / "home"], "wrote outside ROOT"
    assert sorted(p.name for p in (target.server.root / "repos").iterdir()) == [
        "blog.git", "shop.git"]


@pytest.mark.slow
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(COMMANDS)
def test_generated_commands_run_nothing_outside_the_whitelist(target: Target,
                                                              text: str) -> None:
    raw = text.encode("utf-8", errors="surrogateescape")
    if b"\0" in raw:
        raw = raw.replace(b"\0", b"")  # the environment cannot carry NUL (unit-tested)
    result = target.ssh_command("alice", raw)
    assert result.returncode in (0, 1, 2), result
    assert b"Traceback" not in result.stderr
    if result.returncode == 2:
        assert result.stderr.startswith(b"error: ") and result.stderr.count(b"\n") == 1
    assert_nothing_escaped(target)


ATTEMPTS = [
    b"releases -a shop; sh -c id", b"releases -a shop && touch x", b"`sh`", b"$(sh)",
    b"releases -a $(id)", b"git-receive-pack '/shop.git; sh'", b"sh -c 'touch pwned'",
    b"gitdeploy --root / releases", b"releases --root=/ -a shop", b"releases -a ../blog",
    b"config -a blog", b"releases:output -a blog v1", b"keys", b"apps:create evil",
]


@pytest.mark.parametrize("raw", ATTEMPTS, ids=lambda r: r.decode(errors="replace")[:30])
def test_known_attacks_are_refused(target: Target, raw: bytes) -> None:
    result = target.ssh_command("alice", raw)
    assert result.returncode == 2, result
    assert_nothing_escaped(target)
    assert not (target.server.root / "repos/evil.git").exists()


def test_a_key_without_access_never_sees_a_secret(target: Target) -> None:
    for words in (["config"], ["config:get", "API_TOKEN"], ["releases:info"],
                  ["releases:output", "v2"], ["releases", "--json"], ["logs"], ["ps"]):
        result = target.ssh_command("bob", " ".join([*words[:1], "-a", "shop",
                                                     *words[1:]]).encode())
        assert result.returncode == 2
        assert SECRET.encode() not in result.stdout + result.stderr
        assert b"no access to app 'shop'" in result.stderr
    owner = target.ssh_command("alice", b"releases:info -a shop")
    assert owner.returncode == 0 and SECRET.encode() not in owner.stdout  # masked
    assert SECRET.encode() in target.ssh_command("alice", b"config -a shop").stdout


def test_root_is_private(target: Target) -> None:
    root = target.server.root
    checked = 0
    for path in [root, *root.rglob("*")]:
        relative = path.relative_to(root).parts
        if path.is_symlink() or (len(relative) > 1 and relative[0] == "repos"):
            continue  # git's own layout, inside a private directory
        if len(relative) > 4 and relative[2] == "releases":
            continue  # the app's files keep the modes git gave them
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_dir() and not (len(relative) == 4 and relative[2] == "releases"):
            assert mode == 0o700, (path, oct(mode))
        elif path.is_file():
            assert mode & 0o077 == 0, (path, oct(mode))
        checked += 1
    assert checked > 20
    assert run(["stat", "-c", "%a", str(root)]).stdout.strip() == "700"

"""Smoke test for tests.support.sshd: a real sshd, forced commands and git over ssh."""

from __future__ import annotations

import os
import pwd
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.sshd import SshServer, authorize, make_client_key, start_sshd
from tests.support.users import ensure_user

USER = "gdsshtest"
HOSTILE = "releases -a x; rm -rf /"
GIT_ENV = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}


@dataclass
class Env:
    server: SshServer
    echo_key: str
    git_key: str
    stranger_key: str
    head: str


def _run(
    argv: list[str], env: dict[str, str] | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, check=check, capture_output=True, text=True, timeout=60)


def _script(path: str, body: str, uid: int, gid: int) -> None:
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\n{body}\n")
    os.chown(path, uid, gid)
    os.chmod(path, 0o755)


def _prepare(server: SshServer, pw: pwd.struct_passwd, scratch: str, authorized_keys: str) -> Env:
    if os.path.exists(authorized_keys):
        os.unlink(authorized_keys)
    # Source repo (root-owned, in the server's temp dir) -> bare repo owned by the user.
    src = os.path.join(server.workdir, "src")
    repo = os.path.join(scratch, "repo.git")
    for argv in (
        ["git", "init", "-q", "-b", "main", src],
        ["git", "-C", src, "-c", "user.name=t", "-c", "user.email=t@example.invalid",
         "commit", "-q", "--allow-empty", "-m", "init"],
        ["git", "clone", "-q", "--bare", src, repo],
    ):  # fmt: skip
        _run(argv, env=GIT_ENV, check=True)
    head = _run(["git", "-C", src, "rev-parse", "HEAD"], env=GIT_ENV, check=True).stdout
    echo, upload = os.path.join(scratch, "echo-original"), os.path.join(scratch, "upload")
    _script(echo, "printf '%s\\n' \"$SSH_ORIGINAL_COMMAND\"", pw.pw_uid, pw.pw_gid)
    _script(upload, f"exec git-upload-pack {repo}", pw.pw_uid, pw.pw_gid)
    _run(["chown", "-R", f"{pw.pw_uid}:{pw.pw_gid}", scratch], check=True)
    echo_key, echo_pub = make_client_key(server.workdir, "echo")
    git_key, git_pub = make_client_key(server.workdir, "git")
    stranger_key, _ = make_client_key(server.workdir, "stranger")
    authorize(USER, f'command="{echo}",restrict {echo_pub}')
    authorize(USER, f'command="{upload}",restrict {git_pub}')
    return Env(server, echo_key, git_key, stranger_key, head.strip())


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    pw = ensure_user(USER)
    server = start_sshd()
    authorized_keys = os.path.join(pw.pw_dir, ".ssh", "authorized_keys")
    try:
        with tempfile.TemporaryDirectory(prefix="sshd-smoke-", dir=pw.pw_dir) as scratch:
            yield _prepare(server, pw, scratch, authorized_keys)
    finally:
        server.stop()
        if os.path.exists(authorized_keys):
            os.unlink(authorized_keys)


def test_original_command_arrives_unparsed(env: Env) -> None:
    result = _run(env.server.client_argv(USER, env.echo_key, HOSTILE))
    assert result.returncode == 0, result.stderr + env.server.log_text()
    assert result.stdout == HOSTILE + "\n"


def test_unknown_key_is_refused(env: Env) -> None:
    result = _run(env.server.client_argv(USER, env.stranger_key, "true"))
    assert result.returncode == 255, result
    assert "Permission denied" in result.stderr


def test_git_ls_remote_through_forced_upload_pack(env: Env) -> None:
    git_env = {**GIT_ENV, "GIT_SSH_COMMAND": env.server.git_ssh_command(env.git_key)}
    result = _run(["git", "ls-remote", env.server.url(USER, "app")], env=git_env)
    assert result.returncode == 0, result.stderr + env.server.log_text()
    assert f"{env.head}\trefs/heads/main" in result.stdout.splitlines()

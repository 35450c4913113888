"""SSH access through a real OpenSSH server on loopback, as a real non-root deploy user."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.gd import GIT_IDENTITY, GITDEPLOY, run, wait_for
from tests.support.procscan import ArgvWatch
from tests.support.sshd import SshServer, ensure_openssh, make_client_key, start_sshd
from tests.support.users import ensure_user

USER = "gdssh"


@pytest.fixture(scope="module")
def sshd() -> Iterator[SshServer]:
    ensure_openssh()
    server = start_sshd()
    yield server
    server.stop()


@dataclass
class Site:
    sshd: SshServer
    root: Path
    home: Path
    keys: dict[str, str]  # key name -> private key path
    work: Path

    def as_deploy(self, *args: str, input: str | None = None,
                  check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(["runuser", "-u", USER, "--", GITDEPLOY, "--root", str(self.root), *args],
                   input=input, check=check)

    def add_key(self, name: str, *options: str) -> None:
        private, public = make_client_key(str(self.work), name)
        self.keys[name] = private
        self.as_deploy("keys:add", name, *options, input=public)

    def ssh(self, key: str, *words: str | bytes, input: str | None = None,
            ) -> subprocess.CompletedProcess[str]:
        argv: list[str | bytes] = [*self.sshd.client_argv(USER, self.keys[key]), *words]
        return subprocess.run(argv, capture_output=True, text=True, input=input, timeout=120,
                              check=False)

    def git_env(self, key: str) -> dict[str, str]:
        return {**os.environ, **GIT_IDENTITY,
                "GIT_SSH_COMMAND": self.sshd.git_ssh_command(self.keys[key])}

    def url(self, app: str) -> str:
        return self.sshd.url(USER, app)

    def checkout(self, app: str, key: str, files: dict[str, str] | None = None) -> Path:
        work = self.work / f"{app}-{key}"
        run(["git", "init", "-q", "-b", "main", str(work)])
        run(["git", "remote", "add", "deploy", self.url(app)], cwd=work)
        for path, text in (files or {"Procfile": "release: echo released by $GITDEPLOY_APP\n"}
                           ).items():
            (work / path).write_text(text)
        run(["git", "add", "-A"], cwd=work)
        run(["git", "commit", "-q", "-m", "init"], cwd=work, env=self.git_env(key))
        return work

    def push(self, work: Path, key: str, refspec: str = "main",
             ) -> subprocess.CompletedProcess[str]:
        return run(["git", "push", "deploy", refspec], cwd=work, env=self.git_env(key),
                   check=False)


@pytest.fixture
def site(sshd: SshServer, tmp_path: Path) -> Iterator[Site]:
    account = ensure_user(USER)
    home = Path(account.pw_dir)
    root = home / f"gd-{uuid.uuid4().hex[:8]}"
    work = tmp_path / "work"
    work.mkdir()
    site = Site(sshd, root, home, {}, work)
    site.add_key("admin", "--admin")
    yield site
    shutil.rmtree(root, ignore_errors=True)
    (home / ".ssh" / "authorized_keys").unlink(missing_ok=True)


def test_keys_add_writes_a_forced_command_line(site: Site) -> None:
    authorized = (site.home / ".ssh" / "authorized_keys")
    (site.home / ".ssh" / "authorized_keys").write_text(
        (authorized.read_text() if authorized.exists() else "") + "ssh-ed25519 AAAA other\n")
    site.add_key("alice", "--apps", "shop,blog")
    lines = authorized.read_text().splitlines()
    assert "ssh-ed25519 AAAA other" in lines  # someone else's line survives
    ours = [line for line in lines if "ssh-command" in line]
    assert len(ours) == 2
    assert all(line.startswith('command="') and '",restrict ssh-ed25519 ' in line
               for line in ours)
    assert f"--root {site.root} ssh-command --key alice" in ours[1]
    assert (authorized.stat().st_mode & 0o777) == 0o600
    assert authorized.stat().st_uid == site.home.stat().st_uid
    listing = json.loads(site.as_deploy("keys", "--json").stdout)
    assert [(k["name"], k["admin"], k["apps"]) for k in listing] == [
        ("admin", True, []), ("alice", False, ["blog", "shop"])]
    for bad_input, message in (("not a key", "not a public key"), ("", "got 0 lines")):
        result = site.as_deploy("keys:add", "mallory", input=bad_input, check=False)
        assert result.returncode == 2 and message in result.stderr
    dup = site.as_deploy("keys:add", "again", input=Path(site.keys["alice"] + ".pub").read_text(),
                         check=False)
    assert dup.returncode == 2 and "already added as 'alice'" in dup.stderr
    assert site.as_deploy("keys:add", "bad/name", input="x", check=False).returncode == 2


def test_push_over_ssh_deploys_with_live_output(site: Site) -> None:
    work = site.checkout("shop", "admin", {"Procfile": "release: echo one; sleep 1; echo two\n"})
    result = site.push(work, "admin")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("remote:")]
    assert "-----> Created app shop" in result.stderr
    assert any(line.rstrip().endswith("one") for line in lines)
    assert any("Released v1" in line for line in lines)
    releases = json.loads(site.ssh("admin", "releases", "-a", "shop", "--json").stdout)
    assert releases[0]["user"] == "admin" and releases[0]["status"] == "succeeded"
    assert (site.root / "apps/shop/current").is_symlink()
    owner = (site.root / "apps/shop/releases/v1").stat().st_uid
    assert owner == site.home.stat().st_uid  # everything runs as the deploy user
    clone = site.work / "clone"
    run(["git", "clone", "-q", site.url("shop"), str(clone)], env=site.git_env("admin"))
    assert (clone / "Procfile").exists()


def test_a_push_over_ssh_exits_with_its_verdict_and_outlives_its_pusher(site: Site) -> None:
    work = site.checkout("shop", "admin", {"Procfile": "release: echo begin; sleep 3\n"})
    push = subprocess.Popen(["git", "push", "deploy", "main"], cwd=work,
                            env=site.git_env("admin"), stderr=subprocess.PIPE,
                            start_new_session=True)
    assert push.stderr is not None
    for raw in push.stderr:
        if b"begin" in raw:
            break
    os.killpg(push.pid, signal.SIGKILL)  # the pusher's ssh goes; the deploy must not
    push.wait(timeout=10)
    head = run(["git", "rev-parse", "HEAD"], cwd=work).stdout.strip()

    def deployed() -> bool:
        ref = run(["git", "--git-dir", str(site.root / "repos/shop.git"), "rev-parse",
                   "--verify", "--quiet", "refs/heads/main"], check=False).stdout.strip()
        return ref == head

    wait_for(deployed, 30, what="the deploy branch to name the deployed commit")
    releases = json.loads(site.ssh("admin", "releases", "-a", "shop", "--json").stdout)
    assert releases[0]["status"] == "succeeded"
    (work / "Procfile").write_text("release: exit 3\n")
    run(["git", "commit", "-qam", "breaks"], cwd=work, env=site.git_env("admin"))
    failed = site.push(work, "admin")
    assert failed.returncode == 1, failed.stderr
    assert "! [remote rejected] main -> main (release v2 failed: release command failed)" \
        in failed.stderr
    assert deployed()  # still v1's commit


def test_commands_over_ssh_with_or_without_the_gitdeploy_word(site: Site) -> None:
    site.push(site.checkout("shop", "admin"), "admin")
    plain = site.ssh("admin", "releases", "-a", "shop")
    prefixed = site.ssh("admin", "gitdeploy", "releases", "-a", "shop")
    assert plain.returncode == prefixed.returncode == 0
    assert plain.stdout.splitlines()[0] == "=== shop Releases - Current: v1"
    assert prefixed.stdout.splitlines()[0] == plain.stdout.splitlines()[0]
    assert site.ssh("admin", "gitdeploy", "releases", "-a", "shop", "--json").stdout == \
        site.ssh("admin", "releases", "-a", "shop", "--json").stdout
    helped = site.ssh("admin")
    assert helped.returncode == 0 and "you are 'admin' (admin)" in helped.stdout
    result = site.ssh("admin", "config:set", "-a", "shop", "'GREETING=hello world'")
    assert result.returncode == 0 and "Released v2" in result.stdout
    assert site.ssh("admin", "config:get", "-a", "shop", "GREETING").stdout == "hello world\n"
    assert json.loads(site.ssh("admin", "releases", "-a", "shop", "--json").stdout)[0][
        "user"] == "admin"


def test_client_mode_runs_on_the_server_with_the_app_inferred(site: Site) -> None:
    work = site.checkout("shop", "admin")
    site.push(work, "admin")
    env = {k: v for k, v in site.git_env("admin").items()
           if k not in ("GITDEPLOY_ROOT", "GITDEPLOY_APP")}
    result = run([GITDEPLOY, "releases"], cwd=work, env=env)
    assert result.stdout.splitlines()[0] == "=== shop Releases - Current: v1"
    result = run([GITDEPLOY, "config:set", "X=a b"], cwd=work, env=env)
    assert "Released v2 (Set X config vars)" in result.stdout
    assert run([GITDEPLOY, "config:get", "X"], cwd=work, env=env).stdout == "a b\n"
    run(["git", "remote", "add", "prod", site.url("prod")], cwd=work)
    site.ssh("admin", "apps:create", "prod")
    other = run([GITDEPLOY, "--remote", "prod", "releases"], cwd=work, env=env)
    assert other.stdout.startswith("=== prod Releases")
    explicit = run([GITDEPLOY, "releases", "-a", "prod"], cwd=work, env=env)
    assert explicit.stdout.startswith("=== prod Releases")
    refused = run([GITDEPLOY, "rollback", "v9"], cwd=work, env=env, check=False)
    assert refused.returncode == 2 and "no release v9" in refused.stderr
    gone = run([GITDEPLOY, "--remote", "prod", "apps:destroy", "--confirm", "prod"], cwd=work,
               env=env, check=False)  # the app is the remote's
    assert gone.returncode == 0 and "Destroyed prod" in gone.stdout, gone.stderr
    missing = run([GITDEPLOY, "--remote", "nope", "releases"], cwd=work, env=env, check=False)
    assert missing.returncode == 2 and "no git remote named 'nope'" in missing.stderr
    local = run([GITDEPLOY, "--root", str(site.work / "none"), "releases", "-a", "x"],
                cwd=work, env=env, check=False)
    assert local.returncode == 2 and "no gitdeploy server at" in local.stderr


def test_config_set_over_ssh_takes_a_multiline_value_on_stdin(site: Site) -> None:
    """`config:set KEY` reads the value from the ssh channel: it never passes through any
    process's command line, on the client or the server, and may span lines."""
    work = site.checkout("shop", "admin", {
        "Procfile": 'release: printf "%s\\n" "$TLS_CERT" | tail -n 1; sleep 1\n'})
    site.push(work, "admin")
    body = "MIIBszCCAVmgAwIBAgIUQ2xpZW50LW1vZGUtY2VydA"
    pem = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----"
    with ArgvWatch(body) as watch:
        result = site.ssh("admin", "config:set", "-a", "shop", "TLS_CERT", input=pem + "\n")
    assert result.returncode == 0, result.stderr
    assert "Released v2 (Set TLS_CERT config vars)" in result.stdout
    assert "-----END CERTIFICATE-----" in result.stdout  # the release saw all of it
    assert site.ssh("admin", "config:get", "-a", "shop", "TLS_CERT").stdout == pem + "\n"
    env = {k: v for k, v in site.git_env("admin").items()
           if k not in ("GITDEPLOY_ROOT", "GITDEPLOY_APP")}
    with ArgvWatch("client-mode-value-77") as client_watch:  # the client's ssh too
        run([GITDEPLOY, "config:set", "NOTE"], cwd=work, env=env,
            input="line one\nclient-mode-value-77\n")
    assert site.ssh("admin", "config:get", "-a", "shop", "NOTE").stdout == \
        "line one\nclient-mode-value-77\n"
    assert watch.samples > 10 and client_watch.samples > 10
    assert watch.hits == set() and client_watch.hits == set()
    empty = site.ssh("admin", "config:set", "-a", "shop", "EMPTY", input="")
    assert empty.returncode == 2 and "no value on stdin for EMPTY" in empty.stderr

# Every command a non-admin key may try, with arguments that make it do something real.
APP_COMMANDS = [
    ["releases"], ["releases:info"], ["releases:output", "v1"], ["config"],
    ["config:get", "X"], ["config:set", "Y=1"], ["config:unset", "Y"], ["rollback", "v1"],
    ["deploy"], ["run", "--", "true"], ["certs"], ["certs:remove"],
]
ADMIN_COMMANDS = [["apps:create", "newapp"], ["apps:destroy", "blog", "--confirm", "blog"],
                  ["keys"], ["keys:remove", "admin"], ["keys:add", "x"]]


def test_acl_matrix(site: Site) -> None:
    for app in ("shop", "blog"):
        site.push(site.checkout(app, "admin"), "admin")
    site.add_key("alice", "--apps", "shop")
    site.add_key("bob", "--apps", "blog")
    for key, own, other in (("alice", "shop", "blog"), ("bob", "blog", "shop")):
        for words in APP_COMMANDS:
            command, rest = words[0], words[1:]
            allowed = site.ssh(key, command, "-a", own, *rest)
            assert "refused" not in allowed.stderr, (key, words, allowed.stderr)
            for target in (other, "doesnotexist"):
                denied = site.ssh(key, command, "-a", target, *rest)
                assert denied.returncode == 2, (key, words, target)
                assert denied.stderr.strip() == (
                    f"error: refused: key {key!r} has no access to app {target!r} (apps "
                    f"are made by an admin: apps:create {target})")
        for words in ADMIN_COMMANDS:
            denied = site.ssh(key, *words)
            assert denied.returncode == 2, (key, words)
            assert denied.stderr.strip() == (
                f"error: refused: key {key!r} is not an admin: {words[0]} is refused")
        promote = site.ssh(key, "promote", "-a", own, "--to", other)
        assert promote.returncode == 2 and "no access to app" in promote.stderr
        listing = site.ssh(key, "apps")
        assert own in listing.stdout and other not in listing.stdout
        work = site.checkout(own, key, {"Procfile": "release: true\n", "f": key})
        push = site.push(work, key, "+main")  # a new history: force it
        assert push.returncode == 0 and "Released" in push.stderr
        for target in (other, "brandnew"):
            work = site.checkout(target, key)
            denied = site.push(work, key)
            assert denied.returncode != 0
            assert f"refused: key {key!r} has no access to app {target!r}" in denied.stderr
    assert not (site.root / "repos/brandnew.git").exists()
    assert json.loads(site.ssh("admin", "releases", "-a", "shop", "--json").stdout)[0][
        "user"] == "alice"
    for words in ADMIN_COMMANDS[:3]:
        assert site.ssh("admin", *words).returncode == 0, words


CANARY = "/tmp/gitdeploy-canary"
INJECTIONS: list[str | bytes] = [
    f"releases -a shop; touch {CANARY}",
    f"releases -a shop && touch {CANARY}",
    f"releases -a shop | touch {CANARY}",
    f"releases -a `touch {CANARY}`",
    f"releases -a $(touch {CANARY})",
    f"releases -a shop\ntouch {CANARY}",
    f"touch {CANARY}",
    "git-receive-pack '../shop.git'",
    "git-receive-pack '/etc/passwd'",
    "git-receive-pack '/srv/gitdeploy/repos/shop.git'",
    f"git-upload-pack '{CANARY}'",
    "releases -a ../shop",
    "releases -a /etc/passwd",
    "--root=/ releases -a shop",
    "releases --root=/ -a shop",
    "releases -a shop --root /",
    "releases -a " + "x" * 5000,
    "config:set -a shop " + "A=" + "y" * 5000,
    b"releases -a \xff\xfe",
    "hook post-receive shop",
    "hook proc-receive shop",
    "worker shop v1",
    "ssh-command --key admin",
    "setup --user root",
    "releases -a 'unterminated",
]


@pytest.mark.parametrize("attempt", INJECTIONS, ids=lambda a: repr(a)[:40])
def test_injection_is_refused_and_runs_nothing(site: Site, attempt: str | bytes) -> None:
    site.add_key("alice", "--apps", "shop")
    Path(CANARY).unlink(missing_ok=True)
    for key in ("alice", "admin"):
        result = site.ssh(key, attempt)
        assert result.returncode == 2, (key, result)
        assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
        assert "Traceback" not in result.stderr
        assert not os.path.exists(CANARY)
    assert not (site.root / "repos/shop.git").exists()


def test_removed_key_no_longer_gets_in(site: Site) -> None:
    site.add_key("alice", "--apps", "shop")
    assert site.ssh("alice").returncode == 0
    site.as_deploy("keys:remove", "alice")
    assert site.ssh("alice").returncode == 255
    assert site.as_deploy("keys:remove", "alice", check=False).returncode == 2


def test_setup_makes_a_working_server(sshd: SshServer, tmp_path: Path) -> None:
    private, public = make_client_key(str(tmp_path), "first-admin")
    pub_file = tmp_path / "admin.pub"
    pub_file.write_text(public)
    user = "gdsetup"
    result = run([GITDEPLOY, "setup", "--user", user, "--admin-key", str(pub_file),
                  "--domain", "Example.Test"],
                 env={**os.environ, "npm_config_loglevel": "warn"})  # a network setting
    account = ensure_user(user)
    root = Path(account.pw_dir) / ".gitdeploy"
    try:
        assert f"Server root {root}" in result.stdout
        assert root.stat().st_uid == account.pw_uid and root.stat().st_mode & 0o777 == 0o700
        authorized = Path(account.pw_dir) / ".ssh" / "authorized_keys"
        assert "ssh-command --key first-admin" in authorized.read_text()  # its comment
        assert f"Sandbox checked: {user} can run app code in bubblewrap" in result.stdout
        greeting = subprocess.run(sshd.client_argv(user, private), capture_output=True,
                                  text=True, timeout=60, check=False)
        assert greeting.returncode == 0 and "you are 'first-admin' (admin)" in greeting.stdout
        _, public2 = make_client_key(str(tmp_path), "second")
        (tmp_path / "second.pub").write_text(public2)
        again = run([GITDEPLOY, "setup", "--user", user, "--admin-key",
                     str(tmp_path / "second.pub"), "--admin-name", "ops"])
        assert f"User {user} exists" in again.stdout
        assert "ssh-command --key ops" in authorized.read_text()
        # a push over ssh runs with sshd's environment: setup stored the shell's settings
        assert "Builds reach the package registries with this shell's" in result.stdout
        stored = subprocess.run(sshd.client_argv(user, private, "builds:env"),
                                capture_output=True, text=True, timeout=60, check=False)
        assert "npm_config_loglevel: warn (server setting)" in " ".join(stored.stdout.split())
        # the front door: the system nginx includes the user's config, a root path unit
        # reloads it, and the user's settings turn it on
        include = Path(f"/etc/nginx/conf.d/gitdeploy-{user}.conf").read_text()
        assert f'include "{root}/nginx/gitdeploy*.conf";' in include
        path_unit = Path(f"/etc/systemd/system/gitdeploy-nginx-{user}.path").read_text()
        assert f"PathChanged={root}/nginx/reload" in path_unit
        assert "ExecStartPre=/usr/sbin/nginx -t -q" in Path(
            f"/etc/systemd/system/gitdeploy-nginx-{user}.service").read_text()
        assert "The front door is on: every app answers on APP.example.test" in result.stdout
        shown = subprocess.run(sshd.client_argv(user, private, "settings", "--json"),
                               capture_output=True, text=True, timeout=60, check=False)
        assert json.loads(shown.stdout) == {"domain": "example.test", "proxy": "nginx"}
        assert "map $http_upgrade" in (root / "nginx/gitdeploy.conf").read_text()
    finally:
        shutil.rmtree(root, ignore_errors=True)
        (Path(account.pw_dir) / ".ssh" / "authorized_keys").unlink(missing_ok=True)


def test_an_admin_adds_keys_over_ssh(site: Site) -> None:
    private, public = make_client_key(str(site.work), "carol")
    added = site.ssh("admin", "keys:add", "carol", "--apps", "shop", input=public)
    assert added.returncode == 0, added.stderr
    site.keys["carol"] = private
    hello = site.ssh("carol")
    assert hello.returncode == 0 and "you are 'carol' (apps: shop)" in hello.stdout


def test_a_key_is_told_how_apps_are_made_and_gets_the_ssh_remote(site: Site) -> None:
    site.add_key("alice", "--apps", "shop")
    work = site.checkout("shop", "alice")
    pushed = site.push(work, "alice")
    assert pushed.returncode != 0
    assert "has no access to app 'shop' (apps are made by an admin: apps:create shop)" in \
        pushed.stderr
    created = site.ssh("admin", "apps:create", "shop")
    assert created.returncode == 0
    assert f"git remote add deploy {site.url('shop')}" in created.stdout
    assert str(site.root) not in created.stdout
    assert site.push(work, "alice").returncode == 0

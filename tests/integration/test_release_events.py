"""Every release event: config vars, rollback, promotion, retention, masked secrets."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable

from tests.support.gd import GITDEPLOY, AppRepo, Server

MakeApp = Callable[..., AppRepo]


def config(server: Server, app: str) -> dict[str, str]:
    result: dict[str, str] = json.loads(server.gd("config", "-a", app, "--json").stdout)
    return result


def test_config_set_runs_a_release_that_sees_the_value(make_app: MakeApp,
                                                       server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: printf '%s' \"$GREETING\" > /data/seen\n"})
    seen = repo.data / "seen"
    repo.push()
    result = server.gd("config:set", "-a", "app", "GREETING=hello world")
    assert "Released v2 (Set GREETING config vars)" in result.stdout
    assert seen.read_text() == "hello world"
    v2 = server.release("app", 2)
    assert v2["description"] == "Set GREETING config vars" and v2["config_keys"] == ["GREETING"]
    assert v2["commit"] == server.release("app", 1)["commit"]
    assert os.path.realpath(server.root / "apps/app/releases/v2") == \
        os.path.realpath(server.root / "apps/app/releases/v1")
    server.gd("config:unset", "-a", "app", "GREETING")
    assert seen.read_text() == ""
    assert server.release("app", 3)["description"] == "Remove GREETING config vars"
    assert config(server, "app") == {}


def test_a_config_change_whose_release_fails_does_not_take_effect(make_app: MakeApp,
                                                                 server: Server) -> None:
    repo = make_app("app", {"Procfile": 'release: test "$MODE" != bad || '
                                        '{ echo "refusing MODE=bad"; exit 1; }\n'})
    repo.push()
    server.gd("config:set", "-a", "app", "MODE=good")
    result = server.gd("config:set", "-a", "app", "MODE=bad", "OTHER=1", check=False)
    assert result.returncode == 1
    assert "refusing MODE=bad" in result.stdout
    assert "Release v3 failed: release command failed — v2 is still live" in result.stdout
    assert config(server, "app") == {"MODE": "good"}
    assert server.current("app") == "releases/v2"
    assert not os.path.lexists(server.root / "apps/app/releases/v3")


def test_rollback_restores_old_code_and_old_config(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: true\n", "index.html": "A"})
    repo.push()                                                 # v1: A, {}
    server.gd("config:set", "-a", "app", "X=1")                 # v2: A, X=1
    repo.commit({"index.html": "B"})
    repo.push()                                                 # v3: B, X=1
    server.gd("config:set", "-a", "app", "X=2")                 # v4: B, X=2
    result = server.gd("rollback", "-a", "app", "v2")           # v5: A, X=1
    assert "Released v5 (Rollback to v2)" in result.stdout
    assert result.stdout.rstrip().endswith("To undo, run: gitdeploy rollback -a app v4")
    assert (server.root / "apps/app/current/index.html").read_text() == "A"
    assert server.gd("config:get", "-a", "app", "X").stdout == "1\n"
    default = server.gd("rollback", "-a", "app")                # v6: back to v4
    assert "Released v6 (Rollback to v4)" in default.stdout
    assert (server.root / "apps/app/current/index.html").read_text() == "B"
    assert config(server, "app") == {"X": "2"}


def test_rollback_refuses_what_it_cannot_restore(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: true\n", "gitdeploy.yml": "keep_releases: 1\n"})
    first = server.gd("rollback", "-a", "app", check=False)
    assert first.returncode == 2 and "no earlier succeeded release" in first.stderr
    repo.push()                                       # v1
    repo.commit({"Procfile": "release: exit 1\n"})
    repo.push(fails=True)                             # v2 failed
    repo.commit({"Procfile": "release: true\n", "f": "x"})
    repo.push()                                       # v3
    repo.commit({"f": "y"})
    repo.push()                                       # v4: v1's files are pruned
    for target, message in (("v2", "cannot roll back to v2: it failed"),
                            ("v1", "cannot roll back to v1: its slug was pruned"),
                            ("v9", "has no release v9"), ("vx", "invalid release version")):
        result = server.gd("rollback", "-a", "app", target, check=False)
        assert result.returncode == 2, (target, result)
        assert message in result.stderr, result.stderr
    info = server.release("app", 3)
    assert info["rollback_eligible"] is True
    assert server.release("app", 1)["rollback_eligible"] is False
    assert len(server.releases("app")) == 4


def test_promote_carries_the_slug_with_the_targets_config(make_app: MakeApp,
                                                         server: Server) -> None:
    staging = make_app("staging", {
        "Procfile": "release: echo \"$GITDEPLOY_APP $STAGE\" > /data/seen\n", "index.html": "new"})
    staging.push()
    assert (staging.data / "seen").read_text() == "staging \n"
    seen = server.data_dir("prod") / "seen"  # the promoted release runs as prod, with its data
    server.gd("apps:create", "prod")
    server.gd("config:set", "-a", "prod", "STAGE=production")
    result = server.gd("promote", "-a", "staging", "--to", "prod")
    assert "Released v1 (Promote staging v1)" in result.stdout
    assert (server.root / "apps/prod/current/index.html").read_text() == "new"
    assert seen.read_text() == "prod production\n"
    prod = server.release("prod", 1)
    assert prod["commit"] == server.release("staging", 1)["commit"]
    assert prod["config_keys"] == ["STAGE"]
    assert server.gd("promote", "-a", "prod", "--to", "nope", check=False).returncode == 2


def test_retention_keeps_newest_current_and_rollback_target(make_app: MakeApp,
                                                            server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: true\n", "gitdeploy.yml": "keep_releases: 2\n"})
    releases = server.root / "apps/app/releases"
    slugs = server.root / "apps/app/slugs"

    def kept() -> tuple[list[str], list[str]]:
        server.wait_idle("app")
        dirs = sorted(p.name for p in releases.iterdir() if not p.name.endswith(".env"))
        return dirs, sorted(p.name.split(".")[0] for p in slugs.iterdir())

    for i in range(3):
        repo.commit({"n": str(i)})
        repo.push()                                   # v1..v3
    assert kept() == (["v2", "v3"], ["v2", "v3"])
    server.gd("rollback", "-a", "app", "v2")          # v4 shares v2's directory
    # v2 itself is pruned (slug gone) but its directory stays: the live v4 lives in it.
    assert kept() == (["v2", "v3", "v4"], ["v3", "v4"])
    assert (server.root / "apps/app/current/n").read_text() == "1"
    assert server.gd("rollback", "-a", "app", "v1", check=False).returncode == 2
    for i in range(2):
        repo.commit({"n": f"again {i}"})
        repo.push()                                   # v5, v6
    assert kept() == (["v5", "v6"], ["v5", "v6"])
    assert len(list((server.root / "apps/app/logs").iterdir())) == 6
    server.gd("rollback", "-a", "app")                # v7 -> v5; v6 is now the rollback target
    assert kept() == (["v5", "v6", "v7"], ["v6", "v7"])
    assert (server.root / "apps/app/current/n").read_text() == "again 0"
    assert server.release("app", 6)["rollback_eligible"] is True


def test_secrets_are_masked_everywhere_but_config(make_app: MakeApp, server: Server) -> None:
    url = "redis://shop:s3cr3t-pw@cache.internal:6379/0"  # DATABASE_URL: test_database.py
    server.gd("apps:create", "app")
    server.gd("config:set", "-a", "app", f"CACHE_URL={url}", "API_TOKEN=tok-123456")
    repo = AppRepo(server, "app", server.root.parent / "work")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo.work)], check=True)
    subprocess.run(["git", "remote", "add", "deploy", str(server.root / "repos/app.git")],
                   cwd=repo.work, check=True)
    repo.commit({"Procfile": 'release: echo "url=$CACHE_URL token=$API_TOKEN"\n'})
    pushed = repo.push()
    assert "url=redis://shop:*****@cache.internal:6379/0 token=*****" in pushed.stderr
    info = server.gd("releases:info", "-a", "app", "--json").stdout
    assert json.loads(info)["config_keys"] == ["API_TOKEN", "CACHE_URL"]
    for text in (pushed.stderr, server.log("app", 1), info,
                 (server.root / "log/gitdeploy.jsonl").read_text(),
                 server.gd("releases", "-a", "app", "--json").stdout):
        assert "s3cr3t-pw" not in text and "tok-123456" not in text
    assert server.gd("config:get", "-a", "app", "CACHE_URL").stdout == url + "\n"
    assert url in server.gd("config", "-a", "app").stdout


def test_config_before_the_first_deploy_makes_no_release(make_app: MakeApp,
                                                         server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: echo $EARLY > /data/seen\n"})
    seen = repo.data / "seen"
    result = server.gd("config:set", "-a", "app", "EARLY=yes")
    assert "no release was made" in result.stdout
    assert server.releases("app") == []
    repo.push()
    assert seen.read_text() == "yes\n"
    assert server.release("app", 1)["config_keys"] == ["EARLY"]


def test_values_round_trip_exactly(make_app: MakeApp, server: Server) -> None:
    release = "release: printf '%s|%s|%s' \"$A\" \"$B\" \"$C\" > /data/out\n"
    repo = make_app("app", {"Procfile": release})
    out = repo.data / "out"
    repo.push()
    values = {"A": "x=y==z", "B": "line one\nline 'two' \"$HOME\" `x` \\", "C": "ünïcødé ✓"}
    server.gd("config:set", "-a", "app", *(f"{k}={v}" for k, v in values.items()))
    assert out.read_text() == "|".join(values.values())
    assert config(server, "app") == values
    for key, value in values.items():
        assert server.gd("config:get", "-a", "app", key).stdout == value + "\n"
    shell = server.gd("config", "-a", "app", "--shell").stdout
    sourced = subprocess.run(["sh", "-c", f"{shell}\nprintf '%s' \"$B\""], capture_output=True,
                             text=True, check=True).stdout
    assert sourced == values["B"]
    env_file = server.root / "apps/app/releases/v2.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert os.readlink(server.root / "apps/app/current.env") == "releases/v2.env"


def test_bad_config_input_exits_2(make_app: MakeApp, server: Server) -> None:
    make_app("app")
    for args in (["config:set", "-a", "app", "1BAD=x"], ["config:set", "-a", "app", "NOEQUALS"],
                 ["config:set", "-a", "app", "A-B=1"], ["config:unset", "-a", "app", "MISSING"],
                 ["config:get", "-a", "app", "bad-key"], ["config", "-a", "nope"]):
        result = server.gd(*args, check=False)
        assert result.returncode == 2, (args, result)
        assert result.stderr.startswith("error: ")
    missing = server.gd("config:get", "-a", "app", "UNSET", check=False)
    assert missing.returncode == 1 and "UNSET is not set" in missing.stderr


def test_concurrent_config_changes_all_apply(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: sleep 0.5\n"})
    repo.push()
    procs = [subprocess.Popen([GITDEPLOY, "--root", str(server.root), "config:set", "-a", "app",
                               f"K{i}={i}"], stdout=subprocess.DEVNULL) for i in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    assert config(server, "app") == {f"K{i}": str(i) for i in range(4)}
    assert [r["status"] for r in server.releases("app")] == ["succeeded"] * 5


def test_config_files_are_private(make_app: MakeApp, server: Server) -> None:
    make_app("app", {"Procfile": "release: true\n"}).push()
    server.gd("config:set", "-a", "app", "DB_PASSWORD=hunter22")
    assert stat.S_IMODE(server.root.stat().st_mode) == 0o700
    for path in (server.root / "state").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in (server.root / "apps/app/releases").glob("*.env"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_releases_info_lists_the_commits_since_the_previous_deploy(make_app: MakeApp,
                                                                   server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: true\n"})
    first = repo.commit(message="first")
    repo.push()
    made = [repo.commit({"a.txt": str(i)}, f"change number {i}") for i in range(3)]
    repo.push()
    server.gd("config:set", "-a", "app", "K=1")  # v3: no commit, no changes of its own

    info = json.loads(server.gd("releases:info", "-a", "app", "v2", "--json").stdout)
    assert info["changes_since"] == {
        "version": 1, "more": False,
        "commits": [{"sha": sha, "author": "Test", "subject": f"change number {i}"}
                    for i, sha in reversed(list(enumerate(made)))],
    }
    text = server.gd("releases:info", "-a", "app", "v2").stdout
    assert "Changes since v1: 3 commits" in text
    assert f"{made[2][:7]}  change number 2  (Test)" in text
    for version in ("v1", "v3"):
        info = json.loads(server.gd("releases:info", "-a", "app", version, "--json").stdout)
        assert info["changes_since"] is None
    assert first not in {c["sha"] for c in json.loads(server.gd(
        "releases:info", "-a", "app", "v2", "--json").stdout)["changes_since"]["commits"]}


def test_failed_releases_do_not_count_toward_keep_releases(make_app: MakeApp,
                                                           server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: true\n", "gitdeploy.yml": "keep_releases: 3\n"})
    repo.push()                                                   # v1
    repo.commit({"n": "2"})
    repo.push()                                                   # v2
    for i in range(5):                                            # v3..v7 fail
        repo.commit({"Procfile": "release: exit 1\n", "n": f"bad {i}"})
        repo.push(check=False)
    repo.commit({"Procfile": "release: true\n", "n": "8"})
    repo.push()                                                   # v8
    server.wait_idle("app")
    app = server.root / "apps/app"
    assert sorted(p.name for p in (app / "releases").iterdir() if p.is_dir()) == \
        ["v1", "v2", "v8"]
    assert sorted(p.name.split(".")[0] for p in (app / "slugs").iterdir()) == ["v1", "v2", "v8"]
    assert [server.release("app", v)["rollback_eligible"] for v in (1, 2)] == [True, True]
    assert "Released v9 (Rollback to v1)" in server.gd("rollback", "-a", "app", "v1").stdout

"""The trunk, end to end: real `git push` into a bare repo, real hook, worker and processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable

from tests.support.gd import AppRepo, Server, run, wait_for
from tests.support.procscan import pids_holding, unique_sleep

MakeApp = Callable[..., AppRepo]


def remote_lines(stderr: str) -> list[str]:
    return [line[len("remote: "):].rstrip() for line in stderr.splitlines()
            if line.startswith("remote: ")]


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def remote_ref(server: Server, app: str, ref: str = "refs/heads/main") -> str | None:
    done = run(["git", "--git-dir", str(server.root / "repos" / f"{app}.git"), "rev-parse",
                "--verify", "--quiet", ref], check=False)
    return done.stdout.strip() or None


def test_the_push_exit_status_carries_the_verdict(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: test -e $GITDEPLOY_DATA/migrations-may-run\n"})
    flag = repo.data / "migrations-may-run"
    sha = run(["git", "rev-parse", "HEAD"], cwd=repo.work).stdout.strip()
    failed = repo.push(check=False)
    assert failed.returncode == 1, failed.stderr
    assert "! [remote rejected] main -> main (release v1 failed: release command failed)" \
        in failed.stderr
    assert remote_ref(server, "app") is None  # the deploy branch names what was deployed
    flag.touch()
    again = repo.push(check=False)  # the same commit: it deploys again
    assert again.returncode == 0, again.stderr
    assert "Released v2" in again.stderr
    assert remote_ref(server, "app") == sha
    assert [r["commit"] for r in server.releases("app")] == [sha, sha]
    repo.commit({"Procfile": "release echo no colon\n"})
    invalid = repo.push(check=False)
    assert invalid.returncode == 1 and "was not deployed" in invalid.stderr
    assert "! [remote rejected] main -> main (not deployed:" in invalid.stderr
    assert remote_ref(server, "app") == sha and len(server.releases("app")) == 2
    run(["git", "branch", "-f", "feature"], cwd=repo.work)
    other = repo.push("feature", check=False)  # stored as asked: nothing to deploy
    assert other.returncode == 0 and "only pushes to main deploy" in other.stderr
    assert remote_ref(server, "app", "refs/heads/feature") is not None


def test_push_streams_release_output_as_it_happens(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: echo first; sleep 2; echo second\n"})
    push = repo.push_popen()
    assert push.stderr is not None
    started = time.monotonic()
    seen: dict[str, float] = {}
    for raw in push.stderr:
        line = raw.decode()
        for word in ("first", "second"):
            if line.startswith("remote:") and line.split()[-1:] == [word]:
                seen[word] = time.monotonic() - started
    push.wait(timeout=60)
    finished = time.monotonic() - started
    assert push.returncode == 0
    assert seen["first"] < finished - 1.5, (seen, finished)  # arrived live, not at the end
    assert seen["second"] - seen["first"] > 1.5
    log = server.log("app", 1)
    order = ["-----> Building v1", "-----> Running release command: echo first",
             "       first", "       second", "-----> Released v1"]
    positions = [log.index(text) for text in order]
    assert positions == sorted(positions)
    assert server.current("app") == "releases/v1"
    release = server.releases("app")[0]
    assert release["status"] == "succeeded" and release["current"] is True
    assert release["commit"] == run(["git", "rev-parse", "HEAD"], cwd=repo.work).stdout.strip()
    assert release["description"] == f"Deploy {release['commit'][:7]}"


def test_failed_release_leaves_the_live_release_untouched(make_app: MakeApp,
                                                          server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: echo ok\n", "index.html": "one"})
    repo.push()
    repo.commit({"Procfile": "release: echo 'migration blew up' >&2; exit 3\n",
                 "index.html": "two"})
    result = repo.push(fails=True)
    lines = remote_lines(result.stderr)
    assert "migration blew up" in "\n".join(lines)
    verdict = lines[-1]
    assert "Release v2 failed: release command failed" in verdict
    assert "v1 is still live" in verdict
    assert server.current("app") == "releases/v1"
    assert (server.root / "apps/app/current/index.html").read_text() == "one"
    v2 = server.release("app", 2)
    assert (v2["status"], v2["reason"]) == ("failed", "release command failed")
    assert not (server.root / "apps/app/releases/v2").exists()
    server.wait_idle("app")
    assert (server.root / "apps/app/slugs/v2.tar.gz").exists()
    output = server.gd("releases:output", "-a", "app", "v2").stdout
    assert "migration blew up" in output and "exited with status 3" in output
    assert output == server.log("app", 2)


def test_first_release_failing_says_none_is_live(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: exit 1\n"})
    lines = remote_lines(repo.push(fails=True).stderr)
    assert "no release is live" in lines[-1]
    assert server.current("app") is None


def test_release_timeout_stops_the_whole_process_tree(make_app: MakeApp, server: Server) -> None:
    # a shell and its background child, both deaf to SIGTERM; $$ inside the sandbox is a pid
    # of its own namespace, so the test finds them on the host by their command lines
    sleep = unique_sleep(1000)
    release = f"trap '' TERM; (trap '' TERM; exec {sleep}) & wait"
    repo = make_app("app", {
        "Procfile": f"release: {release}\n",
        "gitdeploy.yml": "release:\n  timeout: 3\n  kill_grace: 1\n",
    })
    started = time.monotonic()
    push = repo.push_popen()

    def tree() -> dict[int, list[str]] | None:
        found = pids_holding(sleep)
        argvs = list(found.values())
        return found if sleep.split() in argvs and ["/bin/sh", "-c", release] in argvs else None

    try:
        pids = wait_for(tree, 20, 0.01, what="the release command and its child")
    finally:
        _, err = push.communicate(timeout=60)
    assert push.returncode == 1
    assert time.monotonic() - started < 30
    assert "Release v1 failed: release command timed out" in remote_lines(err.decode())[-1]
    for pid, argv in pids.items():
        wait_for(lambda pid=pid: not pid_alive(pid), 5, what=f"{argv} (pid {pid}) to die")
    assert pids_holding(sleep) == {}
    assert server.release("app", 1)["reason"] == "release command timed out"


def test_pusher_killed_mid_release_does_not_stop_it(make_app: MakeApp, server: Server) -> None:
    printer = "python3 -c 'import time\nfor i in range(20000): print(\"x\" * 60, i)\n'"
    repo = make_app("app", {
        "Procfile": "release: sh ./release.sh\n",
        "release.sh": f"echo begin\nsleep 1\n{printer}\nsleep 1\necho the-end\n",
    })
    push = repo.push_popen()
    assert push.stderr is not None
    for raw in push.stderr:
        if b"begin" in raw:
            break
    worker = _worker_pid(server, "app")
    os.killpg(push.pid, signal.SIGKILL)
    push.wait(timeout=10)
    release = server.wait_final("app", 1)
    assert release["status"] == "succeeded"
    log = server.log("app", 1)
    assert len(log) > 1_000_000
    assert "x" * 60 + " 19999" in log and "the-end" in log and "Released v1" in log
    wait_for(lambda: not pid_alive(worker), 10, what="the worker to exit")
    head = run(["git", "rev-parse", "HEAD"], cwd=repo.work).stdout.strip()
    assert remote_ref(server, "app") == head  # moved by the worker: the hook was gone
    hooks = run(["pgrep", "-f", f"{server.root} hook "], check=False)
    assert hooks.stdout == "", "a hook was left hanging"


def test_a_second_push_waits_for_the_first(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: echo start $GITDEPLOY_RELEASE; sleep 2\n"})
    first = repo.push_popen()
    wait_for(lambda: [r for r in server.releases("app") if r["status"] == "releasing"], 20,
             what="v1 to be releasing")
    repo.commit({"file": "2"})
    second = repo.push(timeout=60)
    first.wait(timeout=60)
    assert first.returncode == 0
    lines = remote_lines(second.stderr)
    assert any("Waiting for v1 (Deploy" in line for line in lines)
    v1, v2 = server.release("app", 1), server.release("app", 2)
    assert v1["status"] == v2["status"] == "succeeded"
    assert v1["finished_at"] <= v2["started_at"]
    assert server.current("app") == "releases/v2"


def _worker_pid(server: Server, app: str) -> int:
    holder = (server.root / "apps" / app / "locks" / "app.lock").read_text()
    match = re.search(r"pid (\d+)", holder)
    assert match, holder
    return int(match.group(1))


def test_killed_worker_takes_its_release_command_along(make_app: MakeApp,
                                                       server: Server) -> None:
    sleep = unique_sleep(300)  # found by its command line: $$ would be the sandbox's pid
    repo = make_app("app", {"Procfile": f"release: exec {sleep}\n"})
    push = repo.push_popen()
    (release_pid,) = wait_for(lambda: [pid for pid, argv in pids_holding(sleep).items()
                                       if argv == sleep.split()], 20,
                              what="the release command to start")
    os.kill(_worker_pid(server, "app"), signal.SIGKILL)
    wait_for(lambda: not pid_alive(release_pid), 10, what="the release command to die")
    wait_for(lambda: pids_holding(sleep) == {}, 10, what="the sandbox to be gone")
    push.wait(timeout=30)
    v1 = server.release("app", 1)
    assert (v1["status"], v1["reason"]) == ("failed", "interrupted")
    assert server.current("app") is None
    assert "interrupted" in server.log("app", 1)
    repo.commit({"Procfile": "release: echo fine\n"})
    lines = remote_lines(repo.push().stderr)
    assert "Released v2" in lines[-1]
    assert not list((server.root / "apps/app/tmp").iterdir())


def test_other_refs_deploy_nothing(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: echo hi\n"})
    run(["git", "branch", "feature"], cwd=repo.work)
    run(["git", "tag", "v1.0"], cwd=repo.work)
    lines = remote_lines(repo.push("feature", "v1.0").stderr)
    assert "-----> branch feature received; only pushes to main deploy" in lines
    assert "-----> tag v1.0 received; only pushes to main deploy" in lines
    lines = remote_lines(repo.push(":feature").stderr)
    assert lines == ["-----> branch feature deleted; nothing to deploy"]
    assert server.releases("app") == []


def test_the_deploy_branch_cannot_be_deleted(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: true\n"})
    sha = run(["git", "rev-parse", "HEAD"], cwd=repo.work).stdout.strip()
    repo.push()
    refused = repo.push(":main", check=False)
    assert refused.returncode == 1
    assert remote_lines(refused.stderr) == []
    assert "! [remote rejected] main (the deploy branch main cannot be deleted)" \
        in [line.strip() for line in refused.stderr.splitlines()]
    assert remote_ref(server, "app") == sha


def _bad_commit(repo: AppRepo) -> str:
    """A commit git refuses when it checks objects: its author line has no valid date."""
    parent = run(["git", "rev-parse", "HEAD"], cwd=repo.work).stdout.strip()
    empty_tree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
    text = (f"tree {empty_tree}\nparent {parent}\nauthor A <a@b> notadate +0000\n"
            "committer A <a@b> 1 +0000\n\nbad\n")
    return run(["git", "hash-object", "-t", "commit", "-w", "--literally", "--stdin"],
               cwd=repo.work, input=text).stdout.strip()


def test_app_repositories_check_every_object_they_receive(make_app: MakeApp,
                                                          server: Server) -> None:
    new = make_app("new", {"Procfile": "release: true\n"})
    new.push()
    refused = new.push(f"{_bad_commit(new)}:refs/heads/main", check=False)
    assert refused.returncode == 1 and "badDate" in refused.stderr
    assert len(server.releases("new")) == 1
    # a repository made by an older gitdeploy: the first push brings it up to date
    old = make_app("old", {"Procfile": "release: true\n"})
    bare = server.root / "repos/old.git"
    (bare / "hooks/proc-receive").unlink()
    for key in ("receive.procReceiveRefs", "receive.fsckObjects"):
        run(["git", "--git-dir", str(bare), "config", "--unset-all", key], check=False)
    assert "Released v1" in old.push().stderr  # deployed from post-receive, as before
    assert run(["git", "--git-dir", str(bare), "config", "receive.fsckObjects"]
               ).stdout.strip() == "true"
    refused = old.push(f"{_bad_commit(old)}:refs/heads/main", check=False)
    assert refused.returncode == 1 and "badDate" in refused.stderr
    old.commit({"Procfile": "release: exit 1\n"})
    old.push(fails=True)  # and proc-receive answers for its pushes now


def test_master_deploys_when_there_is_no_main(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: echo hi\n"})
    run(["git", "branch", "-m", "master"], cwd=repo.work)
    assert "Released v1" in repo.push("master").stderr


def test_branch_setting_of_the_live_release_picks_the_deploy_branch(
        make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"gitdeploy.yml": "branch: production\n"})
    assert "Released v1" in repo.push("main").stderr  # nothing live yet: main decides
    repo.commit({"f": "2"})
    assert "only pushes to production deploy" in repo.push("main").stderr
    assert "Released v2" in repo.push("main:production").stderr


def test_a_pushed_branch_cannot_make_itself_the_deploy_branch(make_app: MakeApp,
                                                              server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: echo hi\n"})
    assert "Released v1" in repo.push().stderr
    run(["git", "checkout", "-q", "-b", "experiment"], cwd=repo.work)
    repo.commit({"gitdeploy.yml": "branch: experiment\n", "f": "x"})
    lines = remote_lines(repo.push("experiment").stderr)
    assert lines == ["-----> branch experiment received; only pushes to main deploy"]
    assert len(server.releases("app")) == 1 and server.current("app") == "releases/v1"
    # nor through `deploy`, whose default is the deploy branch the server decided
    assert "Deploy" in server.gd("deploy", "-a", "app").stdout
    assert server.releases("app")[0]["commit"] == server.releases("app")[1]["commit"]


def test_invalid_app_files_are_refused_before_building(make_app: MakeApp,
                                                       server: Server) -> None:
    repo = make_app("app", {"Procfile": "release echo no colon\nweb: ok\n",
                            "gitdeploy.yml": "relase:\n  timeout: 5\n"})
    lines = remote_lines(repo.push(fails=True).stderr)
    text = "\n".join(lines)
    assert "Procfile is invalid" in text and "line 1" in text
    assert "was not deployed" in text
    assert server.releases("app") == []
    repo.commit({"Procfile": "release: echo ok\n"})
    text = "\n".join(remote_lines(repo.push(fails=True).stderr))
    assert "unknown key 'relase' (did you mean 'release'?)" in text


def test_hook_works_with_a_bare_path(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: echo $GITDEPLOY_APP\n"})
    bare = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    assert "Released v1" in repo.push(env=bare).stderr


def test_redeploy_any_commit_from_the_cli(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: echo release $GITDEPLOY_COMMIT\n", "f": "1"})
    first = run(["git", "rev-parse", "HEAD"], cwd=repo.work).stdout.strip()
    run(["git", "tag", "stable"], cwd=repo.work)
    repo.push("main", "stable")
    repo.commit({"f": "2"})
    repo.push()
    for ref in ("stable", first[:8], "main"):
        result = server.gd("deploy", "-a", "app", ref)
        assert "Released" in result.stdout
    versions = server.releases("app")
    assert [v["commit"] == first for v in versions[:3]] == [False, True, True]
    bad = server.gd("deploy", "-a", "app", "no-such-ref", check=False)
    assert bad.returncode == 2 and "no commit named 'no-such-ref'" in bad.stderr


def test_release_json_has_the_contract_fields(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: true\n"})
    repo.push()
    release = server.releases("app")[0]
    for key, kind in (("version", int), ("name", str), ("status", str), ("description", str),
                      ("commit", str), ("current", bool), ("created_at", str), ("user", str)):
        assert isinstance(release[key], kind), key
    assert release["reason"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", release["created_at"])
    info = server.release("app", 1)
    assert info["config_keys"] == []
    table = server.gd("releases", "-a", "app").stdout.splitlines()
    assert table[0] == "=== app Releases - Current: v1"
    assert table[1].startswith("v1  Deploy ")


def test_apps_listing_and_destroy(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: true\n"})
    repo.push()
    assert re.search(r"^app\s+v1\s+Deploy", server.gd("apps").stdout, re.M)
    refused = server.gd("apps:destroy", "app", check=False)
    assert refused.returncode == 2 and "--confirm app" in refused.stderr
    server.gd("apps:destroy", "app", "--confirm", "app")
    assert not (server.root / "apps/app").exists()
    assert not (server.root / "repos/app.git").exists()
    missing = server.gd("releases", "-a", "app", check=False)
    assert missing.returncode == 2 and "no app named 'app'" in missing.stderr


def test_bad_names_and_usage_exit_2(server: Server) -> None:
    for args in (["apps:create", "Bad_Name"], ["apps:create", "../x"], ["releases"],
                 ["nonsense"], ["releases", "-a", "../x"]):
        result = server.gd(*args, check=False)
        assert result.returncode == 2, (args, result)
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    server.gd("apps:create", "ok")
    again = server.gd("apps:create", "ok", check=False)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert server.gd("releases:info", "-a", "ok", "v9", check=False).returncode == 2


def test_worker_never_writes_to_the_hooks_pipes(make_app: MakeApp, server: Server) -> None:
    """A release command that outlives nothing: push returns as soon as the release ends."""
    repo = make_app("app", {"Procfile": "release: (sleep 60 &) ; echo bg started\n"})
    started = time.monotonic()
    result = repo.push(timeout=50)
    assert time.monotonic() - started < 20
    assert "Released v1" in result.stderr
    assert run(["pgrep", "-f", "sleep 60$"], check=False).stdout == ""


def test_every_line_of_the_log_reaches_the_pusher(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: printf 'a\\rb\\r\\nc\\000d\\n\\377\\n'\n"})
    lines = remote_lines(repo.push().stderr)
    log = server.log("app", 1).splitlines()
    assert [line.rstrip() for line in log] == lines
    assert "       a" in lines and "       b" in lines


def test_ledger_versions_are_never_reused(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: exit 1\n"})
    repo.push(fails=True)
    repo.commit({"Procfile": "release: true\n"})
    repo.push()
    assert [r["version"] for r in server.releases("app")] == [2, 1]
    assert subprocess.run(["test", "-L", str(server.root / "apps/app/current")]).returncode == 0


def test_malformed_objects_are_refused(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: echo hi\n"})
    repo.push()
    tree = run(["git", "rev-parse", "HEAD^{tree}"], cwd=repo.work).stdout.strip()
    parent = run(["git", "rev-parse", "HEAD"], cwd=repo.work).stdout.strip()
    body = (f"tree {tree}\nparent {parent}\nauthor Bad <bad@example.com 1700000000 +0000\n"
            f"committer Bad <bad@example.com> 1700000000 +0000\n\nbad\n")
    bad = subprocess.run(["git", "hash-object", "--literally", "-t", "commit", "-w", "--stdin"],
                         cwd=repo.work, input=body, capture_output=True, text=True,
                         check=True).stdout.strip()
    run(["git", "update-ref", "refs/heads/main", bad], cwd=repo.work)
    done = repo.push(check=False)
    assert done.returncode != 0 and "fsck" in done.stderr.lower()
    assert [r["version"] for r in server.releases("app")] == [1]


def test_no_systemd_manager_is_said_once_per_app_and_off_silences_it(
        make_app: MakeApp, server: Server) -> None:
    nobus = {**os.environ, "XDG_RUNTIME_DIR": str(server.root / "no-runtime-dir")}
    repo = make_app("app", {"Procfile": "web: python3 -m http.server $PORT\n"})
    warning = "no systemd user manager is reachable"
    assert warning in repo.push(env=nobus).stderr
    repo.commit({"f": "2"})
    second = repo.push(env=nobus).stderr
    assert "Released v2" in second and warning not in second
    other = make_app("other", {"Procfile": "web: python3 -m http.server $PORT\n"})
    off = other.push(env={**nobus, "GITDEPLOY_SYSTEMD": "off"}).stderr
    assert "Released v1" in off and warning not in off

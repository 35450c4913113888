"""The database-aware release phase and postdeploy, against a real throwaway PostgreSQL 15."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime

import psycopg
import pytest

from tests.integration.test_push import remote_lines
from tests.support.gd import GITDEPLOY, AppRepo, Server, wait_for
from tests.support.pg import PgServer, start_pg_server, start_pgbouncer

MakeApp = Callable[..., AppRepo]
MIGRATE = 'release: psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -f migrate.sql\n'


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    server = start_pg_server()
    yield server
    server.stop()


@pytest.fixture
def database(pg: PgServer) -> Iterator[tuple[str, str]]:
    name = f"db_{uuid.uuid4().hex[:10]}"
    url = pg.create_database(name)
    yield name, url
    pg.drop_database(name)


def db_app(make_app: MakeApp, server: Server, url: str, name: str = "app",
           files: dict[str, str] | None = None) -> AppRepo:
    repo = make_app(name)
    server.gd("config:set", "-a", name, f"DATABASE_URL={url}")
    if files:
        repo.commit(files)
    return repo


def schema_changes(server: Server, app: str, version: int) -> list[tuple[str, str, bool]]:
    info = server.release(app, version)
    return [(c["kind"], c["object"], c["breaking"]) for c in info["schema_changes"]]


def test_a_migration_runs_in_the_release_phase(make_app: MakeApp, server: Server, pg: PgServer,
                                               database: tuple[str, str]) -> None:
    name, url = database
    repo = db_app(make_app, server, url, files={
        "Procfile": MIGRATE,
        "migrate.sql": "CREATE TABLE items (id serial PRIMARY KEY, title text NOT NULL);\n"})
    lines = remote_lines(repo.push().stderr)
    assert "Released v1" in lines[-1]
    assert pg.psql("SELECT count(*) FROM items", name).strip() == "0"
    changes = schema_changes(server, "app", 1)
    assert ("table_added", "public.items", False) in changes
    assert ("index_added", "public.items_pkey", False) in changes
    assert "-----> Schema changes: " in "\n".join(lines)


def test_an_unreachable_database_fails_before_the_release_command(
        make_app: MakeApp, server: Server, pg: PgServer, database: tuple[str, str]) -> None:
    name, url = database
    repo = db_app(make_app, server, url, files={"Procfile": "release: echo ran > /dev/null\n"})
    repo.push()
    pg.create_role(f"r{name}", "right-password")
    bad_urls = {
        "bad password": pg.url(name, user=f"r{name}", password="WRONG-s3cr3t"),
        "missing database": pg.url("no_such_db", user=f"r{name}", password="right-password"),
        "nothing listens": f"postgresql://u:pw-s3cr3t@127.0.0.1:1/{name}?connect_timeout=2",
    }
    for why, bad in bad_urls.items():
        result = server.gd("config:set", "-a", "app", f"DATABASE_URL={bad}", check=False)
        assert result.returncode == 1, why
        assert "database unreachable" in result.stdout, why
        assert "cannot connect to " in result.stdout
        assert "/no_such_db" in result.stdout or why != "missing database"
        assert "s3cr3t" not in result.stdout and "right-password" not in result.stdout, why
        assert "ran" not in result.stdout
        assert server.current("app") == "releases/v1"
        assert json.loads(server.gd("config", "-a", "app", "--json").stdout)[
            "DATABASE_URL"] == url
    log = "\n".join(server.log("app", v) for v in range(2, 5))
    assert "s3cr3t" not in log and "right-password" not in log


def test_database_url_printed_by_the_release_command_is_masked(
        make_app: MakeApp, server: Server, pg: PgServer, database: tuple[str, str]) -> None:
    name, _ = database
    pg.create_role(f"m{name}", "pw-Zq81-secret")
    url = pg.url(name, user=f"m{name}", password="pw-Zq81-secret")
    repo = db_app(make_app, server, url, files={"Procfile": 'release: echo "db=$DATABASE_URL"\n'})
    text = repo.push().stderr
    assert "Released v1" in text
    assert f"db=postgresql://m{name}:*****@" in text
    for output in (text, server.log("app", 1), server.gd("releases:info", "-a", "app").stdout,
                   (server.root / "log/gitdeploy.jsonl").read_text()):
        assert "pw-Zq81-secret" not in output


def test_apps_sharing_a_database_take_turns(make_app: MakeApp, server: Server,
                                            database: tuple[str, str]) -> None:
    _, url = database
    # each app stamps its own data directory (all its sandbox sees of the host): merged here
    release = ('release: echo "$GITDEPLOY_APP start $(date +%s.%N)" >> /data/stamps; sleep 2; '
               'echo "$GITDEPLOY_APP end $(date +%s.%N)" >> /data/stamps\n')
    first = db_app(make_app, server, url, "first", {"Procfile": release})
    second = db_app(make_app, server, url, "second", {"Procfile": release})
    stamps = [repo.data / "stamps" for repo in (first, second)]
    pushing = first.push_popen()
    wait_for(lambda: stamps[0].exists() and "first start" in stamps[0].read_text(), 30)
    result = second.push()
    pushing.wait(timeout=60)
    assert "Waiting for the release lock of" in result.stderr
    assert "(held by gitdeploy first v1)" in result.stderr
    times = {" ".join(line.split()[:2]): float(line.split()[2])
             for path in stamps for line in path.read_text().splitlines()}
    assert times["second start"] >= times["first end"]
    assert server.release("second", 1)["status"] == "succeeded"


def test_lock_timeout_stops_a_blocked_migration_fast(
        make_app: MakeApp, server: Server, pg: PgServer, database: tuple[str, str]) -> None:
    name, url = database
    pg.psql("CREATE TABLE t (id int)", name)
    server.gd("apps:create", "app")
    server.gd("config:set", "-a", "app", f"DATABASE_URL={url}",
              "PGOPTIONS=-c search_path=migrator")
    repo = AppRepo(server, "app", server.root.parent / "w")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo.work)], check=True)
    subprocess.run(["git", "remote", "add", "deploy", str(server.root / "repos/app.git")],
                   cwd=repo.work, check=True)
    repo.commit({"Procfile": 'release: psql "$DATABASE_URL" -X -At -c "SHOW lock_timeout" '
                             '-c "SHOW search_path" -c "ALTER TABLE public.t ADD COLUMN x int"\n',
                 "gitdeploy.yml": "release:\n  lock_timeout: 1s\n"})
    blocker = psycopg.connect(url)
    blocker.execute("SELECT * FROM t")  # an open transaction holding ACCESS SHARE on t
    try:
        started = time.monotonic()
        result = repo.push(fails=True)
        elapsed = time.monotonic() - started
    finally:
        blocker.close()
    assert elapsed < 15
    text = result.stderr
    assert "canceling statement due to lock timeout" in text
    assert "       1s" in text and "       migrator" in text  # ours added to the app's own
    assert "Release v1 failed: release command failed" in text


def test_schema_diff_flags_what_breaks_the_live_release(
        make_app: MakeApp, server: Server, database: tuple[str, str]) -> None:
    _, url = database
    repo = db_app(make_app, server, url, files={
        "Procfile": MIGRATE,
        "migrate.sql": "CREATE TABLE IF NOT EXISTS users (id int, legacy text);\n"})
    repo.push()
    repo.commit({"migrate.sql": "ALTER TABLE users DROP COLUMN legacy;\n"})
    text = repo.push().stderr
    assert schema_changes(server, "app", 2) == [("column_dropped", "public.users.legacy", True)]
    assert "1 of them may break v1, which serves traffic until this release goes live" in text
    assert "expand -> deploy -> contract" in text
    repo.commit({"migrate.sql": "CREATE TABLE half (id int);\nSELECT no_such_function();\n"})
    text = repo.push(fails=True).stderr
    assert "Release v3 failed: release command failed" in text
    assert schema_changes(server, "app", 3) == [("table_added", "public.half", False)]


def test_a_killed_worker_never_leaves_the_database_locked(
        make_app: MakeApp, server: Server, database: tuple[str, str]) -> None:
    _, url = database
    repo = db_app(make_app, server, url, files={
        "Procfile": "release: touch /data/running; exec sleep 60\n"})
    marker = repo.data / "running"
    pushing = repo.push_popen()
    wait_for(marker.exists, 30, what="the release phase to start")
    holder = (server.root / "apps/app/locks/app.lock").read_text()
    os.kill(int(holder.rpartition("pid ")[2]), signal.SIGKILL)
    pushing.wait(timeout=30)
    repo.commit({"Procfile": "release: true\n"})
    started = time.monotonic()
    assert "Released v2" in repo.push().stderr
    assert time.monotonic() - started < 10
    assert server.release("app", 1)["reason"] == "interrupted"


def test_postdeploy_runs_after_go_live_without_holding_the_push(
        make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": (  # postdeploy waits for the push to have returned
        "release: true\npostdeploy: date +%s.%N > /data/started; "
        "echo \"$GITDEPLOY_RELEASE postdeploy begins\"; "
        "n=0; while [ ! -e /data/go ] && [ $n -lt 300 ]; do n=$((n+1)); sleep 0.1; done; "
        "echo $GITDEPLOY_RELEASE > /data/seen; echo reindexed\n")})
    started, seen, go = (repo.data / name for name in ("started", "seen", "go"))
    text = repo.push().stderr
    assert "Postdeploy starts now, in the background" in text
    assert "releases:output -a app v1 --follow" in text
    assert server.release("app", 1)["postdeploy_status"] == "running"
    assert "postdeploy running" in server.gd("releases", "-a", "app").stdout
    go.touch()
    followed = server.gd("releases:output", "-a", "app", "v1", "--follow", timeout=30).stdout
    assert "reindexed" in followed and "Postdeploy of v1 succeeded" in followed
    assert seen.read_text() == "v1\n"
    v1 = server.release("app", 1)
    assert v1["postdeploy_status"] == "succeeded"
    # it began only once v1 was live and its verdict recorded (the sandbox shows it neither)
    live_at = datetime.fromisoformat(v1["finished_at"].replace("Z", "+00:00")).timestamp()
    assert float(started.read_text()) >= live_at
    log = server.log("app", 1)
    assert log.index("Released v1") < log.index("v1 postdeploy begins")


def test_a_failing_postdeploy_leaves_the_release_live(make_app: MakeApp,
                                                      server: Server) -> None:
    repo = make_app("app", {"Procfile": "postdeploy: echo reindex failed; exit 4\n"})
    repo.push()
    wait_for(lambda: server.release("app", 1)["postdeploy_status"] == "failed", 20)
    release = server.release("app", 1)
    assert release["status"] == "succeeded" and release["current"] is True
    assert "the postdeploy command exited with status 4; v1 stays live" in server.log("app", 1)


@pytest.mark.parametrize("policy", ["wait", "cancel"])
def test_a_newer_release_and_a_running_postdeploy(make_app: MakeApp, server: Server,
                                                  policy: str) -> None:
    procfile = ('postdeploy: echo "$GITDEPLOY_RELEASE start $(date +%s.%N)" >> /data/stamps; '
                'sleep 3; echo "$GITDEPLOY_RELEASE end $(date +%s.%N)" >> /data/stamps\n')
    settings = f"postdeploy:\n  on_new_release: {policy}\n"
    repo = make_app("app", {"Procfile": procfile, "gitdeploy.yml": settings})
    stamps = repo.data / "stamps"
    repo.push()
    wait_for(lambda: stamps.exists() and "v1 start" in stamps.read_text(), 20)
    repo.commit({"f": "2"})
    text = repo.push().stderr
    assert "Released v2" in text
    v2 = server.release("app", 2)
    wait_for(lambda: server.release("app", 2)["postdeploy_status"] == "succeeded", 30)
    times = {" ".join(line.split()[:2]): float(line.split()[2])
             for line in stamps.read_text().splitlines()}
    v1 = server.release("app", 1)
    if policy == "wait":
        assert v1["postdeploy_status"] == "succeeded"
        assert times["v2 start"] >= times["v1 end"]          # v2's postdeploy waited
        assert "waiting for the postdeploy of v1" in server.log("app", 2)
        live_at = datetime.fromisoformat(v2["finished_at"].replace("Z", "+00:00")).timestamp()
        assert live_at < times["v1 end"]  # v2 went live while v1's postdeploy still ran
    else:
        assert v1["postdeploy_status"] == "cancelled"
        assert "v1 end" not in times
        assert "cancelling the postdeploy of v1" in server.log("app", 2)


def test_follow_stops_when_the_release_and_its_postdeploy_end(
        make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: sleep 1\npostdeploy: sleep 1; echo pd\n"})
    pushing = repo.push_popen()
    wait_for(lambda: server.releases("app"), 10)
    output: list[str] = []
    follower = threading.Thread(target=lambda: output.append(subprocess.run(
        [GITDEPLOY, "--root", str(server.root), "releases:output", "-a", "app", "--follow"],
        capture_output=True, text=True, timeout=60).stdout))
    follower.start()
    follower.join(60)
    pushing.wait(timeout=30)
    assert output and "Released v1" in output[0] and "Postdeploy of v1 succeeded" in output[0]


def test_a_pooler_that_rejects_pgoptions_fails_the_pre_check_with_the_setting_to_change(
        make_app: MakeApp, server: Server, pg: PgServer, database: tuple[str, str]) -> None:
    name, _ = database
    bouncer = start_pgbouncer(pg)
    try:
        repo = db_app(make_app, server, bouncer.url(name), files={
            "Procfile": "release: psql -X -c 'select 1' \"$DATABASE_URL\"\n"})
        text = "\n".join(remote_lines(repo.push(check=False).stderr))
        assert "Running release command" not in text  # refused before it ran
        assert "rejected the release phase's PGOPTIONS (-c lock_timeout=5000)" in text
        assert "release.lock_timeout: off" in text and "release.database_url_var" in text
        assert server.releases("app")[0]["status"] == "failed"
        repo.commit({"gitdeploy.yml": "release:\n  lock_timeout: off\n"})
        assert "Released v2" in repo.push().stderr  # no PGOPTIONS: PgBouncer takes it
    finally:
        bouncer.stop()

"""Smoke test for tests/support/pg.py against a real PostgreSQL 15 server."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.support import unavailable
from tests.support.pg import PgServer, start_pg_server


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    server = start_pg_server()
    try:
        yield server
    finally:
        server.stop()


def _psql(url: str, sql: str, user: str | None = None) -> str:
    """Run psql with the URL as its only connection argument, optionally as another OS user."""
    argv = ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", sql]
    if user is not None:
        if shutil.which("runuser") is None:
            unavailable("runuser is needed to run psql as a non-root user")
        argv = ["runuser", "-u", user, "--", *argv]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    proc = subprocess.run(
        argv, env=env, cwd="/", capture_output=True, text=True, check=False, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _running(pid: int) -> bool:
    """True unless the process is gone or a zombie.

    The postmaster is daemonised by pg_ctl, so after it exits it is a zombie until PID 1 reaps
    it (in some sandboxes that takes a second or two); a zombie holds no socket or files.
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_superuser_connects_with_psycopg(pg: PgServer) -> None:
    with psycopg.connect(pg.url("postgres")) as conn:
        row = conn.execute("select current_user, current_setting('server_version_num')").fetchone()
    assert row is not None
    assert row[0] == "postgres"
    assert row[1].startswith("15")


def test_password_role(pg: PgServer) -> None:
    pg.create_role("app", "s3cret p@ss/w:rd")
    pg.create_database("appdb", owner="app")
    with psycopg.connect(pg.url("appdb", "app", "s3cret p@ss/w:rd")) as conn:
        row = conn.execute("select current_user, current_database()").fetchone()
    assert row == ("app", "appdb")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(pg.url("appdb", "app", "wrong"))
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(pg.url("appdb", "app"))
    pg.drop_database("appdb")
    assert pg.psql("select count(*) from pg_database where datname = 'appdb'").strip() == "0"


def test_psql_accepts_url(pg: PgServer) -> None:
    assert _psql(pg.url("postgres"), "select 1") == "1"
    pg.create_role("cli", "pw")
    assert _psql(pg.url("postgres", "cli", "pw"), "select current_user") == "cli"


def test_non_root_user_can_connect(pg: PgServer) -> None:
    assert _psql(pg.url("postgres"), "select current_user", user="nobody") == "postgres"


def test_advisory_lock_released_when_holder_disconnects(pg: PgServer) -> None:
    url = pg.url("postgres")
    holder = psycopg.connect(url, autocommit=True)
    with psycopg.connect(url, autocommit=True) as other:
        assert holder.execute("select pg_try_advisory_lock(42)").fetchone() == (True,)
        assert other.execute("select pg_try_advisory_lock(42)").fetchone() == (False,)
        held = other.execute(
            "select count(*) from pg_locks where locktype = 'advisory' and objid = 42 and granted"
        ).fetchone()
        assert held == (1,)
        holder.close()
        # The backend releases the lock when it exits, shortly *after* the client hangs up.
        deadline = time.monotonic() + 10
        while other.execute("select pg_try_advisory_lock(42)").fetchone() != (True,):
            assert time.monotonic() < deadline, "lock still held after holder disconnected"
            time.sleep(0.01)


def test_stop_removes_processes_and_files() -> None:
    server = start_pg_server()
    with open(os.path.join(server.datadir, "postmaster.pid")) as f:
        pid = int(f.readline())
    server.stop()
    assert not os.path.exists(server.root)
    assert not _running(pid)
    server.stop()  # idempotent

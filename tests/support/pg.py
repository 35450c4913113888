"""A real, throwaway PostgreSQL 15 server for integration tests.

The server listens on a Unix socket in Debian's socket directory, ``/run/postgresql`` (its file
name carries the server's own port, so it sits beside any other server's), where app code in
its sandbox reaches it as on a real server, and on TCP at 127.0.0.1. It runs as the
``postgres`` OS user (initdb/pg_ctl refuse root) and every OS user can reach it.

Authentication (``pg_hba.conf``, local connections only):

* roles made with :meth:`PgServer.create_role` are members of the NOLOGIN group role
  ``password_login`` and must pass scram-sha-256, so tests can check bad credentials;
* every other role (``postgres``, roles created by hand) is trusted without a password.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tests.support import unavailable

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PASSWORD_GROUP = "password_login"
_HBA = (f"local all +{PASSWORD_GROUP} scram-sha-256\nlocal all all trust\n"
        f"host all +{PASSWORD_GROUP} 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n")
SOCKET_DIR = "/run/postgresql"  # Debian's, and what the app sandbox shows
_TIMEOUT = 60  # seconds, for any single subprocess
_MAX_SOCKET_PATH = 107  # sun_path is 108 bytes including the NUL


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    # standard_conforming_strings is on (the default), so backslashes need no escaping.
    return "'" + value.replace("'", "''") + "'"


def _clean_env() -> dict[str, str]:
    """Our environment without PG* variables, so a developer's PGHOST etc. cannot leak in."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def _as_postgres(argv: list[str], cwd: str) -> subprocess.CompletedProcess[str]:
    """Run a server binary as the postgres OS user (with only its own group)."""
    try:
        return subprocess.run(
            argv,
            user="postgres",
            group="postgres",
            extra_groups=[],
            cwd=cwd,
            env=_clean_env(),
            capture_output=True,
            text=True,
            check=True,
            timeout=_TIMEOUT,
        )
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(
            f"{argv[0]} failed ({exc.returncode}): {exc.stderr}{exc.stdout}"
        ) from exc


def _free_port() -> int:
    """A port number unused on TCP; only the socket file name (.s.PGSQL.<port>) uses it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class PgServer:
    root: str  # temp dir owned by postgres; holds datadir, sockdir and the server log
    datadir: str
    sockdir: str
    port: int
    logfile: str

    def url(self, db: str, user: str = "postgres", password: str | None = None) -> str:
        """libpq URL through the socket; accepted by psycopg.connect() and ``psql URL``."""
        auth = quote(user, safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        host = quote(self.sockdir, safe="/")
        return f"postgresql://{auth}@/{quote(db, safe='')}?host={host}&port={self.port}"

    def tcp_url(self, db: str, user: str = "postgres", password: str | None = None) -> str:
        auth = quote(user, safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{quote(db, safe='')}"

    def psql(self, sql: str, db: str = "postgres") -> str:
        """Run SQL as the superuser and return stdout, unaligned and tuples-only (-A -t).

        The SQL goes in on stdin, not ``-c``, so statements are not wrapped in one implicit
        transaction (CREATE DATABASE would refuse) and passwords do not show up in ``ps``.
        """
        argv = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.url(db)]
        proc = subprocess.run(
            argv, input=sql, env=_clean_env(), capture_output=True, text=True, timeout=_TIMEOUT
        )
        if proc.returncode != 0:
            raise RuntimeError(f"psql failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def create_role(self, name: str, password: str) -> None:
        """A LOGIN role that must authenticate with ``password`` (scram-sha-256)."""
        self.psql(
            f"CREATE ROLE {quote_ident(name)} LOGIN PASSWORD {quote_literal(password)}"
            f" IN ROLE {quote_ident(PASSWORD_GROUP)};"
        )

    def create_database(self, name: str, owner: str = "postgres") -> str:
        self.psql(f"CREATE DATABASE {quote_ident(name)} OWNER {quote_ident(owner)};")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop even if tests left sessions open (WITH (FORCE) terminates them)."""
        self.psql(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE);")

    def stop(self) -> None:
        """Fast shutdown (immediate as a fallback), then remove everything. Idempotent."""
        try:
            if os.path.exists(os.path.join(self.datadir, "postmaster.pid")):
                ctl = [str(PG_BIN / "pg_ctl"), "stop", "-D", self.datadir, "-w", "-t", "30"]
                try:
                    _as_postgres([*ctl, "-m", "fast"], cwd=self.root)
                except (RuntimeError, subprocess.TimeoutExpired):
                    _as_postgres([*ctl, "-m", "immediate"], cwd=self.root)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            atexit.unregister(self.stop)


def start_pg_server(base_dir: str | None = None) -> PgServer:
    """initdb + start a server in a fresh temp dir under ``base_dir`` (default: $TMPDIR).

    Every ancestor of ``base_dir`` must be world-traversable (pytest's ``tmp_path`` is not),
    since both the postgres user and non-root test users have to reach the socket.
    """
    if os.geteuid() != 0:
        unavailable("a throwaway PostgreSQL server needs root (to run initdb as 'postgres')")
    missing = [b for b in ("initdb", "pg_ctl", "postgres") if not (PG_BIN / b).is_file()]
    if missing or shutil.which("psql") is None:
        unavailable(f"PostgreSQL 15 binaries missing: {missing or ['psql']}")
    try:
        pg_user = pwd.getpwnam("postgres")
    except KeyError:
        unavailable("no 'postgres' OS user")

    parent = Path(base_dir or tempfile.gettempdir()).resolve()
    for d in (parent, *parent.parents):
        if not d.stat().st_mode & 0o001:
            raise ValueError(f"{d} is not world-traversable; the postgres user cannot use it")
    root = tempfile.mkdtemp(prefix="gitdeploy-pg-", dir=parent)
    server = PgServer(
        root=root,
        datadir=os.path.join(root, "data"),
        sockdir=SOCKET_DIR,
        port=_free_port(),
        logfile=os.path.join(root, "postgres.log"),
    )
    try:
        if len(f"{server.sockdir}/.s.PGSQL.{server.port}") > _MAX_SOCKET_PATH:
            raise ValueError(f"socket path under {server.sockdir} exceeds the Unix limit")
        os.chown(root, pg_user.pw_uid, pg_user.pw_gid)
        os.chmod(root, 0o755)
        if not os.path.isdir(SOCKET_DIR):  # as the package makes it, where it did not
            os.mkdir(SOCKET_DIR)
            os.chown(SOCKET_DIR, pg_user.pw_uid, pg_user.pw_gid)
            os.chmod(SOCKET_DIR, 0o2775)
        initdb = [str(PG_BIN / "initdb"), "-D", server.datadir, "-U", "postgres"]
        _as_postgres([*initdb, "-A", "trust", "-E", "UTF8", "--locale=C", "-N"], cwd=root)
        # Settings go into the config files rather than `pg_ctl -o`, which goes through a shell.
        sockdir_value = quote_literal(server.sockdir)
        conf = (
            f"\nport = {server.port}\nunix_socket_directories = {sockdir_value}\n"
            "listen_addresses = '127.0.0.1'\nfsync = off\nsynchronous_commit = off\n"
            "full_page_writes = off\n"
        )
        with open(os.path.join(server.datadir, "postgresql.conf"), "a") as f:
            f.write(conf)
        with open(os.path.join(server.datadir, "pg_hba.conf"), "w") as f:
            f.write(_HBA)
        # -l matters beyond logging: without it the postmaster inherits our stdout/stderr
        # pipes and subprocess.run would wait for EOF forever.
        start = [str(PG_BIN / "pg_ctl"), "start", "-D", server.datadir, "-l", server.logfile]
        try:
            _as_postgres([*start, "-w", "-t", "30"], cwd=root)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            log_path = Path(server.logfile)
            log = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
            raise RuntimeError(f"{exc}\n--- server log ---\n{log}") from exc
        server.psql(f"CREATE ROLE {quote_ident(PASSWORD_GROUP)} NOLOGIN;")
    except BaseException:
        server.stop()
        raise
    atexit.register(server.stop)  # safety net if a test run dies before its teardown
    return server


@dataclass
class PgBouncer:
    """A real PgBouncer (Debian's) in front of a PgServer, on TCP 127.0.0.1:port."""

    process: subprocess.Popen[bytes]
    port: int
    root: str

    def url(self, db: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{quote(db, safe='')}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def start_pgbouncer(pg: PgServer) -> PgBouncer:
    """PgBouncer refuses to run as root: it runs as postgres, trusting the one user."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not os.path.exists(binary):
        unavailable("PgBouncer missing (Debian package pgbouncer)")
    root = tempfile.mkdtemp(prefix="gitdeploy-pgbouncer-", dir=pg.root)
    os.chown(root, pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid)
    port = _free_port()
    Path(root, "users.txt").write_text('"postgres" ""\n')
    Path(root, "pgbouncer.ini").write_text(
        f"[databases]\n* = host={pg.sockdir} port={pg.port}\n\n[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {root}/users.txt\npool_mode = transaction\n"
        f"logfile = {root}/pgbouncer.log\npidfile = {root}/pgbouncer.pid\n")
    process = subprocess.Popen([binary, f"{root}/pgbouncer.ini"], user="postgres",
                               group="postgres", extra_groups=[], env=_clean_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    bouncer = PgBouncer(process, port, root)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return bouncer
        if process.poll() is not None:
            break
        time.sleep(0.1)
    bouncer.stop()
    raise RuntimeError("PgBouncer did not start")

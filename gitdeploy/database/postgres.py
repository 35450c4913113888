"""The app's PostgreSQL database, seen from the release phase (psycopg 3).

One connection per release phase: it checks the database answers (5 s), holds an advisory
lock for the whole phase so that releases of any app sharing the database run one at a
time (advisory locks are per database, so the key is a constant; the lock dies with the
connection, so a killed worker never leaves it stuck), and snapshots the catalog before and
after the release command.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import conninfo

CONNECT_TIMEOUT = 5
LOCK_KEY = 0x67697464_65706C6F  # "gitdeplo": one key, per database by PostgreSQL's design
_USER_SCHEMAS = ("n.nspname NOT IN ('pg_catalog', 'information_schema') "
                 "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'")


class DatabaseError(Exception):
    """A sentence about the database that never contains its password."""


def describe(url: str) -> str:
    """host:port/db of a URL (for messages): never the user's password."""
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an unparsable database URL"
    host = params.get("host") or "localhost"
    return f"{host}:{params.get('port') or 5432}/{params.get('dbname') or '?'}"


# The pre-check connects from the host, outside the app's sandbox, with a URL the app's own
# config chose: only parameters that name a server and how to talk to it are taken, never one
# that makes libpq read or write a host file, or spend the deploy user's credentials
# (~/.pgpass, client certificates, GSS tickets) on a server the app names.
HOST_SIDE_PARAMETERS = frozenset({
    "host", "hostaddr", "port", "dbname", "user", "password", "sslmode", "channel_binding",
    "require_auth", "connect_timeout", "application_name", "options", "client_encoding",
    "target_session_attrs", "load_balance_hosts", "keepalives", "keepalives_idle",
    "keepalives_interval", "keepalives_count", "tcp_user_timeout", "sslnegotiation",
    "sslsni", "sslcompression", "ssl_min_protocol_version", "ssl_max_protocol_version",
})
SOCKET_DIRS = ("/run/postgresql", "/var/run/postgresql")  # what the app's sandbox sees too
NO_FILE = "/nonexistent/gitdeploy"  # libpq's default client certificate and key: none


def host_side_conninfo(url: str) -> str:
    """The app's database URL as the host-side pre-check may use it (other parameters are
    left out). A Unix socket is taken only from the directory the app's sandbox sees."""
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise DatabaseError(f"the database URL cannot be parsed: {_reason(exc)}") from None
    kept = {key: value for key, value in params.items() if key in HOST_SIDE_PARAMETERS}
    for host in str(kept.get("host") or "").split(","):
        if host.startswith("/") and host.rstrip("/") not in SOCKET_DIRS:
            raise DatabaseError(f"the database URL names the socket directory {host}: app "
                                f"code reaches PostgreSQL over TCP or {SOCKET_DIRS[0]} only")
    kept.update(passfile="/dev/null", sslcert=NO_FILE, sslkey=NO_FILE, gssencmode="disable")
    return conninfo.make_conninfo("", **kept)


def pgoptions(existing: str | None, lock_timeout_ms: int, statement_timeout_ms: int) -> str:
    """PGOPTIONS for the release command: the app's own, then ours (later -c wins)."""
    ours = []
    if lock_timeout_ms:
        ours.append(f"-c lock_timeout={lock_timeout_ms}")
    if statement_timeout_ms:
        ours.append(f"-c statement_timeout={statement_timeout_ms}")
    return " ".join(part for part in (existing or "", *ours) if part)


@dataclass
class ReleaseSession:
    connection: psycopg.Connection[Any]
    where: str

    def close(self) -> None:
        self.connection.close()


def _reason(exc: Exception) -> str:
    return str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__


def connect(url: str, application_name: str, options: str = "") -> ReleaseSession:
    """Connect as the release command will: with its ``options`` (PGOPTIONS), so a server
    or pooler that rejects them fails here, before the command runs, not in the middle."""
    where = describe(url)
    url = host_side_conninfo(url)
    kwargs: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT, "autocommit": True,
                              "application_name": application_name[:63]}
    try:
        connection = psycopg.connect(url, options=options, **kwargs)
    except psycopg.Error as exc:
        reason = _reason(exc)
        if options:
            try:
                psycopg.connect(url, **kwargs).close()
            except psycopg.Error:
                pass
            else:  # the same connection without them works: the options are the problem
                raise DatabaseError(
                    f"{where} rejected the release phase's PGOPTIONS ({options}): {reason}. A "
                    "connection pooler such as PgBouncer does: set release.database_url_var in "
                    "gitdeploy.yml to a config var whose URL reaches PostgreSQL directly, or "
                    "release.lock_timeout: off (and no statement_timeout) to send none"
                ) from None
        raise DatabaseError(f"cannot connect to {where}: {reason}") from None
    return ReleaseSession(connection, where)


def _holder(session: ReleaseSession) -> str:
    row = session.connection.execute(
        "SELECT a.application_name, a.pid FROM pg_locks l JOIN pg_stat_activity a "
        "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND (l.classid::bigint << 32 | l.objid::bigint) = %s LIMIT 1", (LOCK_KEY,)
    ).fetchone()
    if row is None:
        return "another session"
    return row[0] or f"session pid {row[1]}"


def lock(session: ReleaseSession, timeout: float, waiting: Callable[[str], None]) -> None:
    """Take the database's release lock, waiting at most ``timeout`` seconds; ``waiting`` is
    told once who holds it."""
    deadline = time.monotonic() + timeout
    told = False
    while True:
        got = session.connection.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
        row = got.fetchone()
        if row is not None and row[0]:
            return
        if not told:
            waiting(_holder(session))
            told = True
        if time.monotonic() >= deadline:
            raise DatabaseError(f"the release lock of {session.where} is still held by "
                                f"{_holder(session)} after {timeout:g} s")
        time.sleep(0.25)


def snapshot(session: ReleaseSession) -> dict[str, Any]:
    """Tables, columns (type, NOT NULL, default), indexes, constraints and enums of every
    user schema, as JSON-able data for schemadiff.diff."""
    run = session.connection.execute
    tables: dict[str, Any] = {}
    for oid, schema, name, kind in run(
            "SELECT c.oid, n.nspname, c.relname, c.relkind FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {_USER_SCHEMAS}"):
        tables[str(oid)] = {"name": f"{schema}.{name}", "kind": kind, "columns": {}}
    if tables:
        for table, number, name, kind, not_null, default in run(
                "SELECT a.attrelid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),"
                " a.attnotnull, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
                "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                "WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attrelid = ANY(%s)",
                ([int(oid) for oid in tables],)):
            tables[str(table)]["columns"][str(number)] = {
                "name": name, "type": kind, "not_null": not_null, "default": default}
    indexes = {f"{schema}.{name}": {"definition": definition} for schema, name, definition in run(
        "SELECT n.nspname, c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE {_USER_SCHEMAS}")}
    constraints = {f"{schema}.{table}.{name}": {"definition": definition}
                   for schema, table, name, definition in run(
        "SELECT n.nspname, c.relname, con.conname, pg_get_constraintdef(con.oid) "
        "FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
        f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_USER_SCHEMAS}")}
    enums: dict[str, Any] = {}
    for schema, name, value_oid, label in run(
            "SELECT n.nspname, t.typname, e.oid, e.enumlabel FROM pg_enum e "
            "JOIN pg_type t ON t.oid = e.enumtypid JOIN pg_namespace n ON n.oid = t.typnamespace"
            f" WHERE {_USER_SCHEMAS} ORDER BY e.enumsortorder"):
        enums.setdefault(f"{schema}.{name}", {"values": {}})["values"][str(value_oid)] = label
    return {"tables": tables, "indexes": indexes, "constraints": constraints, "enums": enums}

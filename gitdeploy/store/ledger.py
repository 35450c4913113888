"""The release ledger: an SQLite database under ROOT (WAL, busy timeout)."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gitdeploy.model.release import AppRecord, Release, now
from gitdeploy.model.states import GoLive, Reason, Status, check_transition
from gitdeploy.store.schema import MIGRATIONS, SCHEMA_VERSION


def _release(row: sqlite3.Row) -> Release:
    return Release(
        app=row["app"],
        version=row["version"],
        kind=row["kind"],
        status=Status(row["status"]),
        reason=row["reason"],
        description=row["description"],
        commit=row["commit_sha"],
        user=row["user"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        config=json.loads(row["config"]) if row["config"] is not None else None,
        request=json.loads(row["request"]),
        postdeploy_status=row["postdeploy_status"],
        schema_changes=(
            json.loads(row["schema_changes"]) if row["schema_changes"] is not None else None
        ),
        golive=GoLive(row["golive"]) if row["golive"] is not None else None,
        golive_previous=row["golive_previous"],
        switched_at=row["switched_at"],
    )


class Ledger:
    def __init__(self, path: Path) -> None:
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA busy_timeout = 30000")
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA synchronous = FULL")
        if self.db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            self.db.execute("PRAGMA journal_mode = WAL")  # persistent; not allowed in a transaction
            with self.write() as db:
                done = db.execute("PRAGMA user_version").fetchone()[0]
                if done > SCHEMA_VERSION:
                    raise RuntimeError(f"the ledger {path} was written by a newer gitdeploy "
                                       f"(schema {done}, this one knows {SCHEMA_VERSION})")
                for step in MIGRATIONS[done:]:
                    for statement in step.split(";"):
                        if statement.strip():
                            db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock up front (no upgrade deadlocks)."""
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- apps ---------------------------------------------------------------------------

    def create_app(self, name: str) -> bool:
        """False if it already exists."""
        with self.write() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO apps (name, created_at) VALUES (?, ?)", (name, now())
            )
            return cursor.rowcount == 1

    def delete_app(self, name: str) -> None:
        with self.write() as db:
            db.execute("DELETE FROM releases WHERE app = ?", (name,))
            db.execute("DELETE FROM domains WHERE app = ?", (name,))
            db.execute("DELETE FROM apps WHERE name = ?", (name,))

    def app(self, name: str) -> AppRecord | None:
        row = self.db.execute("SELECT * FROM apps WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        return AppRecord(
            name=row["name"],
            created_at=row["created_at"],
            last_version=row["last_version"],
            initial_config=json.loads(row["initial_config"]),
            formation=json.loads(row["formation"]),
            port_base=row["port_base"],
        )

    def apps(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM apps ORDER BY name")]

    def set_initial_config(self, app: str, config: dict[str, str]) -> None:
        with self.write() as db:
            db.execute(
                "UPDATE apps SET initial_config = ? WHERE name = ?", (json.dumps(config), app)
            )

    def set_formation(self, app: str, formation: dict[str, int]) -> None:
        with self.write() as db:
            db.execute("UPDATE apps SET formation = ? WHERE name = ?", (json.dumps(formation), app))

    def claim_port_base(self, app: str, choose: Callable[[set[int]], int]) -> int:
        """The app's block of ports: ``choose(taken)`` picks one the first time, atomically."""
        with self.write() as db:
            row = db.execute("SELECT port_base FROM apps WHERE name = ?", (app,)).fetchone()
            if row is None:
                raise KeyError(app)
            if row[0] is not None:
                return int(row[0])
            taken = {r[0] for r in db.execute("SELECT port_base FROM apps "
                                              "WHERE port_base IS NOT NULL")}
            base = choose(taken)
            db.execute("UPDATE apps SET port_base = ? WHERE name = ?", (base, app))
            return base

    # --- releases -----------------------------------------------------------------------

    def new_release(
        self,
        app: str,
        *,
        kind: str,
        description: str,
        user: str,
        commit: str | None = None,
        request: dict[str, Any] | None = None,
        before_insert: Callable[[int], None] | None = None,
    ) -> Release:
        """Take the next version (never reused) and record the release as pending.

        ``before_insert(version)`` runs inside the transaction: the caller takes the release's
        worker lock there, so no reader ever sees a pending release whose lock is free.
        """
        with self.write() as db:
            row = db.execute("SELECT last_version FROM apps WHERE name = ?", (app,)).fetchone()
            if row is None:
                raise KeyError(app)
            version = row[0] + 1
            db.execute("UPDATE apps SET last_version = ? WHERE name = ?", (version, app))
            if before_insert is not None:
                before_insert(version)
            created = now()
            db.execute(
                "INSERT INTO releases (app, version, kind, status, description, commit_sha,"
                " user, created_at, request) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (app, version, kind, Status.PENDING.value, description, commit, user, created,
                 json.dumps(request or {})),
            )
        release = self.release(app, version)
        assert release is not None
        return release

    def release(self, app: str, version: int) -> Release | None:
        row = self.db.execute(
            "SELECT * FROM releases WHERE app = ? AND version = ?", (app, version)
        ).fetchone()
        return _release(row) if row is not None else None

    def releases(self, app: str, limit: int | None = None) -> list[Release]:
        rows = self.db.execute(
            "SELECT * FROM releases WHERE app = ? ORDER BY version DESC LIMIT ?",
            (app, -1 if limit is None else limit),
        )
        return [_release(r) for r in rows]

    def unfinished(self, app: str) -> list[Release]:
        rows = self.db.execute(
            "SELECT * FROM releases WHERE app = ? AND status NOT IN (?, ?) ORDER BY version",
            (app, Status.SUCCEEDED.value, Status.FAILED.value),
        )
        return [_release(r) for r in rows]

    def pinned(self, app: str) -> set[int]:
        """Versions of ``app`` that queued or running releases will read: rollback targets,
        and promotion sources (from any app)."""
        rows = self.db.execute(
            "SELECT app, kind, request FROM releases WHERE kind IN ('rollback', 'promote')"
            " AND status NOT IN (?, ?)", (Status.SUCCEEDED.value, Status.FAILED.value))
        found: set[int] = set()
        for row in rows:
            request = json.loads(row["request"])
            if row["kind"] == "rollback" and row["app"] == app and "version" in request:
                found.add(int(request["version"]))
            elif row["kind"] == "promote" and request.get("source_app") == app:
                found.add(int(request["source_version"]))
        return found

    def transition(
        self, app: str, version: int, status: Status, reason: Reason | None = None,
        **fields: Any,
    ) -> Release:
        """Move a release to ``status`` (checked against the state machine) and set fields."""
        with self.write() as db:
            row = db.execute(
                "SELECT status FROM releases WHERE app = ? AND version = ?", (app, version)
            ).fetchone()
            if row is None:
                raise KeyError(f"{app} v{version}")
            check_transition(Status(row[0]), status, reason)
            stamp = now()
            if status is Status.BUILDING:
                fields.setdefault("started_at", stamp)
            if status.final:
                fields.setdefault("finished_at", stamp)
            fields["status"] = status.value
            fields["reason"] = reason.value if reason is not None else None
            self._update(db, app, version, fields)
        release = self.release(app, version)
        assert release is not None
        return release

    def update(self, app: str, version: int, **fields: Any) -> None:
        with self.write() as db:
            self._update(db, app, version, fields)

    @staticmethod
    def _update(db: sqlite3.Connection, app: str, version: int, fields: dict[str, Any]) -> None:
        columns = {"commit": "commit_sha"}
        encoded = {
            columns.get(k, k): json.dumps(v)
            if k in {"config", "schema_changes", "request"} and v is not None else v
            for k, v in fields.items()
        }
        allowed = {"status", "reason", "started_at", "finished_at", "config", "commit_sha",
                   "postdeploy_status", "schema_changes", "description", "request",
                   "golive", "golive_previous", "switched_at"}
        unknown = set(encoded) - allowed
        if unknown:
            raise ValueError(f"unknown release fields: {sorted(unknown)}")
        assignments = ", ".join(f"{k} = ?" for k in encoded)
        db.execute(
            f"UPDATE releases SET {assignments} WHERE app = ? AND version = ?",
            (*encoded.values(), app, version),
        )

    # --- keys (ssh access) --------------------------------------------------------------

    def key_rows(self) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT * FROM keys ORDER BY name"))

    def add_key(self, name: str, public_key: str, fingerprint: str, admin: bool,
                apps: list[str]) -> None:
        with self.write() as db:
            db.execute("INSERT INTO keys (name, public_key, fingerprint, admin, apps, "
                       "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                       (name, public_key, fingerprint, int(admin), json.dumps(apps), now()))

    def delete_key(self, name: str) -> bool:
        """False if there was no such key."""
        with self.write() as db:
            return db.execute("DELETE FROM keys WHERE name = ?", (name,)).rowcount == 1

    # --- server settings ------------------------------------------------------------------

    def build_env(self) -> dict[str, str]:
        """The server's network settings for builds (builds:env:set)."""
        return dict(self.db.execute("SELECT name, value FROM build_env ORDER BY name"))

    def change_build_env(self, set_: dict[str, str], unset: list[str]) -> None:
        with self.write() as db:
            db.executemany("INSERT INTO build_env (name, value) VALUES (?, ?) ON CONFLICT "
                           "(name) DO UPDATE SET value = excluded.value", set_.items())
            db.executemany("DELETE FROM build_env WHERE name = ?", [(n,) for n in unset])

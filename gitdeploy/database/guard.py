"""The release phase's view of the app's PostgreSQL database.

Before the release command: connect (a pre-check that names host:port/db, never the
password), take the database's release lock (waiting, and saying for whom, at most
release.database_lock_timeout) and snapshot the schema. After it, whether it succeeded or
not: snapshot again, record the difference, let the lock go. Imported only by releases
whose config has a postgres URL: psycopg takes ~150 ms to import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from gitdeploy.appconfig.settings import ReleaseSettings
from gitdeploy.database import postgres, schemadiff
from gitdeploy.model.states import Reason


class DatabaseProblem(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class DatabaseGuard:
    def __init__(self, url: str, settings: ReleaseSettings, application_name: str,
                 say: Callable[[str], None]) -> None:
        self.url = url
        self.settings = settings
        self.application_name = application_name
        self.say = say
        self.session: postgres.ReleaseSession | None = None
        self.before: dict[str, Any] | None = None

    def begin(self, existing_pgoptions: str | None = None) -> None:
        """Connect with the PGOPTIONS the release command will get, take the lock and
        snapshot the schema."""
        try:
            self.session = postgres.connect(self.url, self.application_name,
                                            self.pgoptions(existing_pgoptions))
        except postgres.DatabaseError as exc:
            raise DatabaseProblem(Reason.DATABASE_UNREACHABLE, str(exc)) from None
        where = self.session.where
        try:
            postgres.lock(self.session, self.settings.database_lock_timeout,
                          lambda holder: self.say(f"Waiting for the release lock of {where} "
                                                  f"(held by {holder})"))
            self.before = postgres.snapshot(self.session)
        except postgres.DatabaseError as exc:
            self._close()
            raise DatabaseProblem(Reason.DATABASE_LOCK_TIMED_OUT, str(exc)) from None
        except psycopg.Error as exc:
            self._close()
            raise DatabaseProblem(Reason.DATABASE_UNREACHABLE, f"{where}: {exc}") from None

    def pgoptions(self, existing: str | None) -> str:
        return postgres.pgoptions(existing, self.settings.lock_timeout_ms,
                                  self.settings.statement_timeout_ms)

    def end(self) -> tuple[list[schemadiff.Change] | None, str | None]:
        """(the schema changes, or None and why they could not be read); the lock goes."""
        session = self.session
        if session is None or self.before is None:
            self._close()
            return None, None
        try:
            return schemadiff.diff(self.before, postgres.snapshot(session)), None
        except psycopg.Error as exc:
            return None, f"could not read the schema after the release phase: {exc}"
        finally:
            self._close()

    def _close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

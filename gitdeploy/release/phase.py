"""The release phase: the Procfile's ``release:`` command, run once before the release goes
live, under the database guard when the app has a PostgreSQL database."""

from __future__ import annotations

from gitdeploy.appconfig.environment import postgres_url
from gitdeploy.appconfig.procfile import Procfile
from gitdeploy.appconfig.settings import ReleaseSettings
from gitdeploy.database import schemadiff
from gitdeploy.model.states import Reason
from gitdeploy.release.failure import ReleaseFailure
from gitdeploy.run.runner import run_command
from gitdeploy.sandbox.bwrap import Sandbox
from gitdeploy.store.live import current_version
from gitdeploy.store.oplog import Log
from gitdeploy.store.releaselog import ReleaseLog
from gitdeploy.store.server import Server


def run_release_phase(server: Server, app: str, version: int, procfile: Procfile,
                      settings: ReleaseSettings, config: dict[str, str], env: dict[str, str],
                      sandbox: Sandbox, log: ReleaseLog, oplog: Log) -> None:
    command = procfile.release
    if command is None:
        return
    url = postgres_url(config, settings.database_url_var)
    database = None
    if url is not None:
        from gitdeploy.database.guard import DatabaseGuard, DatabaseProblem

        database = DatabaseGuard(url, settings, f"gitdeploy {app} v{version}", log.header)
        try:
            database.begin(env.get("PGOPTIONS"))
        except DatabaseProblem as problem:
            raise ReleaseFailure(problem.reason, problem.detail) from None
        env = {**env, "PGOPTIONS": database.pgoptions(env.get("PGOPTIONS"))}
    log.header(f"Running release command: {command}")
    try:
        result = run_command(
            command, sandbox=sandbox, env=env,
            timeout=settings.timeout, kill_grace=settings.kill_grace, on_line=log.line,
        )
    finally:
        if database is not None:
            changes, unreadable = database.end()
            if unreadable:
                log.warn(unreadable)
            if changes is not None:
                record_schema_changes(server, app, version, changes, log)
    oplog.info("release.phase", outcome=result.describe(), seconds=round(result.seconds, 3))
    if result.timed_out:
        raise ReleaseFailure(
            Reason.RELEASE_TIMED_OUT,
            f"release command timed out after {settings.timeout:g} s; "
            "it and every process it started were stopped",
        )
    if not result.ok:
        raise ReleaseFailure(Reason.RELEASE_FAILED, f"release command {result.describe()}")


def record_schema_changes(server: Server, app: str, version: int,
                          changes: list[schemadiff.Change], log: ReleaseLog) -> None:
    server.ledger.update(app, version, schema_changes=[change.as_dict() for change in changes])
    if changes:
        log.header(f"Schema changes: {len(changes)}")
        for change in changes:
            log.line(f"{change.kind} {change.object}: {change.detail}")
    breaking = [change for change in changes if change.breaking]
    if breaking:
        live = current_version(server, app)
        serving = f"v{live}" if live is not None else "the code serving traffic"
        log.warn(f"{len(breaking)} of them may break {serving}, which serves traffic "
                 "until this release goes live:")
        for change in breaking:
            log.warn(f"  {change.kind} {change.object}: {change.detail}")
        log.warn(schemadiff.SAFE_PATTERN)

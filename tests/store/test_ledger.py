from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from gitdeploy.model.states import GoLive, Reason, Status, TransitionError
from gitdeploy.store.ledger import Ledger
from gitdeploy.store.schema import MIGRATIONS


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    ledger = Ledger(tmp_path / "state" / "ledger.sqlite3")
    ledger.create_app("app")
    return ledger


def test_files_are_private_and_wal(ledger: Ledger, tmp_path: Path) -> None:
    ledger.new_release("app", kind="deploy", description="d", user="u")
    assert ledger.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    for name in os.listdir(tmp_path / "state"):
        assert os.stat(tmp_path / "state" / name).st_mode & 0o777 == 0o600, name


def test_versions_increase_and_are_never_reused(ledger: Ledger) -> None:
    first = ledger.new_release("app", kind="deploy", description="d", user="u")
    ledger.transition("app", 1, Status.FAILED, Reason.INTERRUPTED)
    second = ledger.new_release("app", kind="deploy", description="d", user="u")
    assert (first.version, second.version) == (1, 2)
    assert [r.version for r in ledger.releases("app")] == [2, 1]
    assert [r.version for r in ledger.unfinished("app")] == [2]


def test_concurrent_writers_get_distinct_versions(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    Ledger(path).create_app("app")
    versions: list[int] = []

    def create() -> None:
        own = Ledger(path)
        for _ in range(10):
            versions.append(own.new_release("app", kind="deploy", description="d",
                                            user="u").version)
        own.close()

    threads = [threading.Thread(target=create) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(versions) == list(range(1, 51))


def test_before_insert_runs_inside_the_transaction(ledger: Ledger, tmp_path: Path) -> None:
    seen: list[int] = []

    def hook(version: int) -> None:
        other = Ledger(tmp_path / "state" / "ledger.sqlite3")
        assert other.release("app", version) is None  # not visible yet
        seen.append(version)

    ledger.new_release("app", kind="deploy", description="d", user="u", before_insert=hook)
    assert seen == [1]


def test_failing_before_insert_rolls_back(ledger: Ledger) -> None:
    def boom(version: int) -> None:
        raise RuntimeError("no lock")

    with pytest.raises(RuntimeError):
        ledger.new_release("app", kind="deploy", description="d", user="u", before_insert=boom)
    assert ledger.releases("app") == []
    assert ledger.new_release("app", kind="deploy", description="d", user="u").version == 1


def test_transitions_are_checked_and_stamped(ledger: Ledger) -> None:
    ledger.new_release("app", kind="deploy", description="d", user="u")
    building = ledger.transition("app", 1, Status.BUILDING)
    assert building.started_at is not None and building.finished_at is None
    with pytest.raises(TransitionError):
        ledger.transition("app", 1, Status.SUCCEEDED)
    ledger.transition("app", 1, Status.RELEASING)
    done = ledger.transition("app", 1, Status.SUCCEEDED)
    assert done.finished_at is not None and done.reason is None
    with pytest.raises(TransitionError):
        ledger.transition("app", 1, Status.FAILED, Reason.INTERRUPTED)


def test_config_round_trips(ledger: Ledger) -> None:
    ledger.new_release("app", kind="deploy", description="d", user="u")
    config = {"A": "x=y", "B": "line\nbreak", "C": "ünï"}
    ledger.update("app", 1, config=config)
    release = ledger.release("app", 1)
    assert release is not None and release.config == config
    with pytest.raises(ValueError, match="unknown release fields"):
        ledger.update("app", 1, bogus=5)


def test_delete_app_removes_its_releases(ledger: Ledger) -> None:
    ledger.new_release("app", kind="deploy", description="d", user="u")
    ledger.delete_app("app")
    assert ledger.app("app") is None and ledger.releases("app") == []
    assert ledger.create_app("app") is True
    assert ledger.create_app("app") is False


def test_a_ledger_of_the_first_schema_is_migrated_and_keeps_its_releases(
        tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    old.executescript(MIGRATIONS[0])
    old.execute("PRAGMA user_version = 1")
    old.execute("INSERT INTO apps (name, created_at) VALUES ('app', 'then')")
    old.execute("INSERT INTO releases (app, version, kind, status, description, user, "
                "created_at) VALUES ('app', 1, 'deploy', 'releasing', 'd', 'u', 'then')")
    old.close()
    ledger = Ledger(path)
    release = ledger.release("app", 1)
    assert release is not None and (release.golive, release.golive_previous) == (None, None)
    ledger.update("app", 1, golive=GoLive.CHECKING.value, golive_previous=None)
    again = ledger.release("app", 1)
    assert again is not None and again.golive is GoLive.CHECKING
    assert ledger.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)

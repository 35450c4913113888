"""The operational log: bound fields once, and no secret in any line, whatever path wrote it."""

from __future__ import annotations

import json
from pathlib import Path

from gitdeploy.appconfig.masking import Masker
from gitdeploy.store import oplog


def read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_bound_fields_and_masking_by_processor(tmp_path: Path) -> None:
    path = tmp_path / "log" / "gitdeploy.jsonl"
    oplog.start(path)
    try:
        oplog.set_masker(Masker({"API_KEY": "k-1234567"}))
        release = oplog.bind(app="shop", version=7)
        release.info("release.start", kind="deploy")
        release.warning("release.failed", detail="curl -H 'X-Key: k-1234567' failed")
        # A CLI crash: argv that no app's masker has seen.
        oplog.bind().error("command.crash", argv=[
            "config:set", "-a", "shop", "SECRET_TOKEN=hunter2hunter",
            "DATABASE_URL=postgres://app:pw-98765@db/shop", "DEBUG=1"])
    finally:
        oplog.flush()
        oplog.set_masker(Masker())
    text = path.read_text()
    for secret in ("k-1234567", "hunter2hunter", "pw-98765"):
        assert secret not in text
    start, failed, crash = read(path)
    assert {k: start[k] for k in ("event", "app", "version", "kind", "level")} == {
        "event": "release.start", "app": "shop", "version": 7, "kind": "deploy",
        "level": "info"}
    assert failed["app"] == "shop" and failed["version"] == 7 and "*****" in str(failed["detail"])
    assert crash["argv"] == ["config:set", "-a", "shop", "SECRET_TOKEN=*****",
                             "DATABASE_URL=postgres://app:*****@db/shop", "DEBUG=1"]
    assert "app" not in crash and isinstance(crash["pid"], int) and "timestamp" in crash

from __future__ import annotations

from typing import Any

import pytest

from gitdeploy.appconfig.settings import AppSettings, SettingsError, parse_settings


@pytest.mark.parametrize(
    ("text", "path", "expected"),
    [
        (None, "keep_releases", 5),
        (b"", "release.timeout", 3600.0),
        (b"# just a comment\n", "branch", None),
        (b"branch: production", "branch", "production"),
        (b"branch: release/2024", "branch", "release/2024"),
        (b"build: make assets", "build", "make assets"),
        (b"keep_releases: 2", "keep_releases", 2),
        (b"release:\n  timeout: 90", "release.timeout", 90.0),
        (b"release:\n  timeout: 10m", "release.timeout", 600.0),
        (b"release:\n  timeout: 1.5h", "release.timeout", 5400.0),
        (b"release:\n  timeout: 500ms", "release.timeout", 0.5),
        (b"release:\n  kill_grace: 3", "release.kill_grace", 3.0),
        (b"release:\n  lock_timeout: 5s", "release.lock_timeout_ms", 5000),
        (b"release:\n  lock_timeout: 250ms", "release.lock_timeout_ms", 250),
        (b"release:\n  lock_timeout: 0", "release.lock_timeout_ms", 0),
        (b"release:\n  lock_timeout: off", "release.lock_timeout_ms", 0),
        (b"release:\n  statement_timeout: 1min", "release.statement_timeout_ms", 60000),
        (b"release:\n  database_url_var: PG_URL", "release.database_url_var", "PG_URL"),
        (b"postdeploy:\n  on_new_release: cancel", "postdeploy.on_new_release", "cancel"),
        (b"postdeploy:\n  timeout: 2d", "postdeploy.timeout", 172800.0),
        (b"healthcheck:\n  path: /health", "healthcheck.path", "/health"),
        (b"healthcheck:\n  timeout: 5", "healthcheck.timeout", 5.0),
        (None, "healthcheck.settle", 3.0),
        (b"healthcheck:\n  settle: 10s", "healthcheck.settle", 10.0),
        (b"healthcheck:\n  settle: 0", "healthcheck.settle", 0.0),
    ],
)
def test_valid(text: bytes | None, path: str, expected: Any) -> None:
    value: Any = parse_settings(text)
    for part in path.split("."):
        value = getattr(value, part)
    assert value == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"relase: {}", "unknown key 'relase' (did you mean 'release'?)"),
        (b"release:\n  timout: 3",
         "unknown key 'release.timout' (did you mean 'release.timeout'?)"),
        (b"colour: red", "unknown key 'colour'"),
        (b"release: 3", "release: must be a mapping"),
        (b"release:\n  timeout: -5", "release.timeout: must not be negative"),
        (b"release:\n  timeout: 0", "release.timeout: must be a positive duration"),
        (b"release:\n  timeout: soon", "release.timeout: must be a duration"),
        (b"release:\n  timeout: true", "release.timeout: must be a duration"),
        (b"release:\n  lock_timeout: -1s", "release.lock_timeout: must be a duration"),
        (b"release:\n  database_url_var: 'not a name'", "must be an environment variable name"),
        (b"keep_releases: 0", "keep_releases: must be a whole number from 1 to 1000"),
        (b"keep_releases: '5'", "keep_releases: must be a whole number"),
        (b"keep_releases: 2.5", "keep_releases: must be a whole number"),
        (b"branch: ../etc", "branch: must be a branch name"),
        (b"branch: 42", "branch: must be a branch name"),
        (b"branch: a.lock", "branch: must be a branch name"),
        (b"build: ''", "build: must be a non-empty command string"),
        (b"build: [make]", "build: must be a non-empty command string"),
        (b"postdeploy:\n  on_new_release: kill", "must be one of wait, cancel"),
        (b"healthcheck:\n  path: health", "must be a URL path starting with '/'"),
        (b"healthcheck:\n  settle: soon", "healthcheck.settle: must be a duration"),
        (b"healthcheck:\n  settle: -1", "healthcheck.settle: must not be negative"),
        (b"healthcheck:\n  settle: 1h", "healthcheck.settle: must be at most 10 minutes"),
        (b"healthcheck:\n  setle: 3", "(did you mean 'healthcheck.settle'?)"),
        (b"[unclosed", "is not valid YAML at line 1"),
        (b"key: [1, 2\n", "is not valid YAML"),
        (b"- a\n- b\n", "must be a mapping of settings, got list"),
        (b"just a string", "must be a mapping of settings, got str"),
        (b"1: x", "unknown key '1'"),
        (b"x: " + b"y" * 70000, "bytes; the limit is"),
    ],
)
def test_invalid_names_the_key(text: bytes, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings(text)
    assert message in caught.value.message
    assert caught.value.exit_code == 2


def test_all_errors_reported_together() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings(b"a: 1\nb: 2\nkeep_releases: -1\n")
    assert len(caught.value.message.splitlines()) == 4


def test_defaults() -> None:
    settings = parse_settings(None)
    assert settings == AppSettings()
    assert settings.release.lock_timeout_ms == 5000
    assert settings.release.database_lock_timeout == 600
    assert settings.postdeploy.timeout == 86400 and settings.healthcheck.timeout == 30


def test_processes_overlap_names_types() -> None:
    parse = parse_settings

    assert parse(b"processes:\n  overlap: worker\n").processes.overlap == ("worker",)
    assert parse(b"processes:\n  overlap: [worker, clock, worker]\n").processes.overlap == (
        "worker", "clock")
    for bad in (b"processes:\n  overlap: [release]\n", b"processes:\n  overlap: 3\n",
                b"processes:\n  overlap: ['a b']\n"):
        with pytest.raises(SettingsError, match=r"processes\.overlap"):
            parse(bad)

from __future__ import annotations

import pytest

from gitdeploy.appconfig.procfile import ProcfileError, parse_procfile


@pytest.mark.parametrize(
    ("text", "entries"),
    [
        (b"web: gunicorn app\n", {"web": "gunicorn app"}),
        (b"release: ./migrate\nweb: serve\n", {"release": "./migrate", "web": "serve"}),
        (b"\xef\xbb\xbfweb: serve\r\nworker: run\r\n", {"web": "serve", "worker": "run"}),
        (b"# comment\n\n  \nweb:serve", {"web": "serve"}),
        (b"web: a: b: c", {"web": "a: b: c"}),
        (b"clock_2-x: tick", {"clock_2-x": "tick"}),
        (b"web: echo '%s' $PORT && true", {"web": "echo '%s' $PORT && true"}),
        (b"   web  :   spaced   ", {"web": "spaced"}),
        (b"", {}),
        (b"# only comments\n", {}),
    ],
)
def test_valid(text: bytes, entries: dict[str, str]) -> None:
    assert parse_procfile(text).entries == entries


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"web serve", "line 1: expected 'type: command'"),
        (b"web: ok\nno colon here", "line 2: expected 'type: command'"),
        (b"web: a\nweb: b", "line 2: process type 'web' is already defined on line 1"),
        (b"we b: x", "line 1: invalid process type 'we b'"),
        (b"-web: x", "line 1: invalid process type '-web'"),
        (b"web.1: x", "line 1: invalid process type 'web.1'"),
        (b": x", "line 1: invalid process type ''"),
        (b"w" * 31 + b": x", "line 1: invalid process type"),
        (b"web:", "line 1: process type 'web' has an empty command"),
        (b"web:    \n", "line 1: process type 'web' has an empty command"),
        (b"web: ok\nbin: \x00\x01", "line 2: contains a NUL byte"),
        (b"web: ok\nx: \xff\xfe", "line 2: not valid UTF-8"),
        (b"web: " + b"x" * 40000, "line 1: longer than"),
        (b"web: x\n" * 40000, "bytes; the limit is"),
    ],
)
def test_invalid_names_the_line(text: bytes, message: str) -> None:
    with pytest.raises(ProcfileError) as caught:
        parse_procfile(text)
    assert message in caught.value.message
    assert caught.value.exit_code == 2


def test_every_bad_line_is_reported() -> None:
    with pytest.raises(ProcfileError) as caught:
        parse_procfile(b"a\nweb: x\nb\nweb: y\n")
    assert [line.split(":")[0].strip() for line in caught.value.message.splitlines()[1:]] == [
        "line 1", "line 3", "line 4"]


def test_phases_are_not_processes() -> None:
    procfile = parse_procfile(b"release: m\npostdeploy: p\nweb: w\nworker: k\n")
    assert procfile.release == "m" and procfile.postdeploy == "p"
    assert procfile.processes == {"web": "w", "worker": "k"}


def test_empty_procfile_warns() -> None:
    assert parse_procfile(b"# nothing\n").warnings == ("Procfile defines no process types",)

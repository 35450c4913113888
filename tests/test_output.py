from __future__ import annotations

import pytest

from gitdeploy.output import LineSplitter, Masker, is_secret, masked_url


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        ([b"a\nb\n"], ["a", "b"]),
        ([b"a", b"b\n"], ["ab"]),
        ([b"a\r\nb\r\n"], ["a", "b"]),
        ([b"a\r", b"\nb\n"], ["a", "b"]),
        ([b"10%\r20%\r30%\n"], ["10%", "20%", "30%"]),
        ([b"no newline"], ["no newline"]),
        ([b"\xff\xfeok\n"], ["\ufffd\ufffdok"]),
        ([b"nul\x00byte\n"], ["nul\ufffdbyte"]),
        ([b"\xe2\x82", b"\xac\n"], ["\u20ac"]),
        ([b"x" * 25 + b"\n"], ["x" * 10, "x" * 10, "x" * 5]),
        ([b"\xe2\x82\xac" * 5 + b"\n"], ["\u20ac" * 3, "\u20ac" * 2]),
        ([b"\n\n"], ["", ""]),
    ],
)
def test_line_splitter(chunks: list[bytes], lines: list[str]) -> None:
    splitter = LineSplitter(max_line=10)
    got: list[str] = []
    for chunk in chunks:
        got += splitter.feed(chunk)
    got += splitter.flush()
    assert got == lines


def test_a_megabyte_without_newline_is_streamed_in_pieces() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"y" * 1_000_000)
    assert len(splitter._buffer) <= 16 * 1024


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [
        ("DB_PASSWORD", "x", True),
        ("api_key", "x", True),
        ("GITHUB_TOKEN", "x", True),
        ("AWS_SECRET_ACCESS_KEY", "x", True),
        ("GOOGLE_CREDENTIALS", "x", True),
        ("DATABASE_URL", "postgres://u:pw@host/db", True),
        ("DATABASE_URL", "postgres://u@host/db", False),
        ("REDIS_URL", "redis://:pw@host:6379/0", True),
        ("HOMEPAGE", "https://example.com/a:b@c", False),
        ("PLAIN", "value", False),
    ],
)
def test_is_secret(name: str, value: str, secret: bool) -> None:
    assert is_secret(name, value) is secret


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgres://user:pw@db.example:5432/app", "postgres://user:*****@db.example:5432/app"),
        ("postgresql://u:p%40ss@/db?host=/tmp", "postgresql://u:*****@/db?host=/tmp"),
        ("redis://:secret@cache:6379/0", "redis://:*****@cache:6379/0"),
        ("postgres://user@db/app", None),
        ("not a url", None),
        ("http://[bad", None),
    ],
)
def test_masked_url(url: str, masked: str | None) -> None:
    assert masked_url(url) == masked


def test_masker_replaces_every_form_of_a_secret() -> None:
    masker = Masker({
        "DATABASE_URL": "postgres://app:s3cr%40t99@db.internal:5432/shop",
        "API_KEY": "abcd-1234",
        "PEM_SECRET": "-----BEGIN-----\nMIIEvgIBADANBgkq\n-----END-----",
        "SHORT_KEY": "ab",
        "GREETING": "hello world",
    })
    text = ("connecting to postgres://app:s3cr%40t99@db.internal:5432/shop with s3cr@t99 "
            "and s3cr%40t99; key=abcd-1234; MIIEvgIBADANBgkq; ab; hello world")
    assert masker.mask(text) == (
        "connecting to postgres://app:*****@db.internal:5432/shop with ***** and *****; "
        "key=*****; *****; ab; hello world")


def test_empty_masker_is_identity() -> None:
    assert not Masker({"A": "b"})
    assert Masker().mask("x") == "x"

from __future__ import annotations

import pytest

from gitdeploy.appconfig.masking import Masker, is_secret, masked_url


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

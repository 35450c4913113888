from __future__ import annotations

import pytest

from gitdeploy.appconfig.masking import Masker, is_secret, mask_patterns, masked_url


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


# The masker, as a table: an app's config, a text its commands printed, what may be shown.
MASKER_TABLE = [
    # names that say "secret"
    ({"SMTP_PASS": "hunter2-xyz"}, "login with hunter2-xyz", "login with *****"),
    ({"DB_PWD": "pa55word!"}, "pwd=pa55word!", "pwd=*****"),
    ({"MYSQL_PASSWD": "s3same"}, "-ps3same", "-p*****"),
    ({"SENTRY_DSN": "https://abc123def@o1.ingest.sentry.io/42"},
     "dsn https://abc123def@o1.ingest.sentry.io/42 ok", "dsn ***** ok"),
    ({"BASIC_AUTH": "admin:letmein"}, "auth admin:letmein", "auth *****"),
    ({"KEY_PASSPHRASE": "correct horse"}, "got correct horse", "got *****"),
    ({"AUTHOR_NAME": "Ada Lovelace"}, "by Ada Lovelace", "by Ada Lovelace"),
    ({"COMPASS_MODE": "north-up"}, "mode north-up", "mode north-up"),
    ({"ENABLE_AUTH": "true", "SKIP_KEY": "false"}, "auth true, skip false",
     "auth true, skip false"),
    # URLs: a password in the userinfo, of any scheme, or in the query
    ({"CACHE": "rediss://:pw-redis-1@cache:6380/0"}, "to rediss://:pw-redis-1@cache:6380/0",
     "to rediss://:*****@cache:6380/0"),
    ({"MONGO": "mongodb+srv://app:m0ngo-pw@c0.example.net/db"},
     "uri mongodb+srv://app:m0ngo-pw@c0.example.net/db; pw m0ngo-pw",
     "uri mongodb+srv://app:*****@c0.example.net/db; pw *****"),
    ({"JDBC": "jdbc:postgresql://app:jd8c-pw@db:5432/shop"},
     "jdbc:postgresql://app:jd8c-pw@db:5432/shop", "jdbc:postgresql://app:*****@db:5432/shop"),
    ({"RABBIT": "amqps://u:p@ss:w0rd@mq.internal/vhost"},
     "amqps://u:p@ss:w0rd@mq.internal/vhost", "amqps://u:*****@mq.internal/vhost"),
    ({"DATABASE_URL": "postgres://db.internal/shop?user=app&password=q-s3cret&sslmode=require"},
     "dsn postgres://db.internal/shop?user=app&password=q-s3cret&sslmode=require, q-s3cret",
     "dsn postgres://db.internal/shop?user=app&password=*****&sslmode=require, *****"),
    ({"WEBHOOK": "https://hooks.example/in?token=t0k3n-abc"}, "posting to ?token=t0k3n-abc",
     "posting to ?token=*****"),
    ({"HOMEPAGE": "https://example.com/?page=2"}, "see https://example.com/?page=2",
     "see https://example.com/?page=2"),
    # a secret's other forms: base64, URL-encoded, a URL password's Basic-auth header
    ({"API_TOKEN": "tok/with+chars=="}, "q=tok%2Fwith%2Bchars%3D%3D",
     "q=*****"),
    ({"API_TOKEN": "tok with space"}, "q=tok+with+space&r=tok%20with%20space", "q=*****&r=*****"),
    ({"API_TOKEN": "hunter2-xyz"}, "Authorization: Bearer aHVudGVyMi14eXo=",
     "Authorization: Bearer *****"),
    ({"API_TOKEN": "hunter2-xyz"}, "urlsafe aHVudGVyMi14eXo", "urlsafe *****"),
    ({"DATABASE_URL": "postgres://app:pg-pw-77@db/shop"},
     "Authorization: Basic YXBwOnBnLXB3LTc3", "Authorization: Basic *****"),
    ({"DATABASE_URL": "postgres://app:p%40ss%2Fw0rd@db/shop"}, "p@ss/w0rd and p%40ss%2Fw0rd",
     "***** and *****"),
    # multi-line secrets, line by line; short values are left alone
    ({"TLS_KEY": "-----BEGIN-----\nMIIEvgIBADAN\n-----END-----"}, "line MIIEvgIBADAN",
     "line *****"),
    ({"SHORT_TOKEN": "ab1"}, "ab1", "ab1"),
]


@pytest.mark.parametrize(("config", "text", "expected"), MASKER_TABLE)
def test_masker_table(config: dict[str, str], text: str, expected: str) -> None:
    assert Masker(config).mask(text) == expected


# Without an app's config: what a crashed command line or a driver's error may hold.
PATTERN_TABLE = [
    ("postgres://u:pw9@h/db", "postgres://u:*****@h/db"),
    ("amqps://u:p@ss:w0rd@mq/vhost", "amqps://u:*****@mq/vhost"),
    ("jdbc:mysql://app:jd8c@db:3306/shop", "jdbc:mysql://app:*****@db:3306/shop"),
    ("https://h/x?user=a&password=q-s3cret&ssl=1", "https://h/x?user=a&password=*****&ssl=1"),
    ("GET /cb?access_token=abc.def&state=9", "GET /cb?access_token=*****&state=9"),
    ("SMTP_PASS=hunter2 DB_PWD=x1 SENTRY_DSN=https://k@s/1 HTTP_AUTH=a:b",
     "SMTP_PASS=***** DB_PWD=***** SENTRY_DSN=***** HTTP_AUTH=*****"),
    ("GREETING=hello https://example.com/?page=2 http://host:8080/a",
     "GREETING=hello https://example.com/?page=2 http://host:8080/a"),
]


@pytest.mark.parametrize(("text", "expected"), PATTERN_TABLE)
def test_mask_patterns_table(text: str, expected: str) -> None:
    assert mask_patterns(text) == expected

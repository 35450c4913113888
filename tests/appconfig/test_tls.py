"""Host name matching (RFC 6125), PEM blocks told apart, openssl's x509 text parsed: pure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gitdeploy.appconfig.tls import (
    MAX_PEM,
    certificates,
    common_name,
    covers,
    parse_x509,
    pem_blocks,
    private_key,
    split_bundle,
    uncovered,
)
from gitdeploy.errors import UsageError


@pytest.mark.parametrize(
    ("names", "host", "expected"),
    [
        (["example.com"], "example.com", True),
        (["Example.COM"], "example.com", True),
        (["example.com"], "EXAMPLE.com", True),
        (["example.com."], "example.com", True),
        (["example.com"], "example.com.", True),
        (["example.com"], "www.example.com", False),
        (["www.example.com"], "example.com", False),
        (["*.example.com"], "a.example.com", True),
        (["*.example.com"], "A.Example.Com.", True),
        (["*.example.com"], "example.com", False),
        (["*.example.com"], "a.b.example.com", False),
        (["*.example.com"], ".example.com", False),
        (["*.example.com"], "a.example.org", False),
        (["*.example.com"], "a.notexample.com", False),
        (["*.com"], "example.com", False),  # a wildcard above a single label covers nothing
        (["*"], "localhost", False),
        (["w*.example.com"], "www.example.com", False),  # partial wildcards: not honoured
        (["a.*.example.com"], "a.b.example.com", False),
        (["*.*.example.com"], "a.b.example.com", False),
        (["*.example.com"], "*.example.com", True),  # a wildcard domain: the same wildcard
        (["a.example.com"], "*.example.com", False),
        (["*.example.org"], "*.example.com", False),
        (["example.com", "*.example.com"], "example.com", True),
        (["example.com", "*.example.com"], "shop.example.com", True),
        ([], "example.com", False),
        ([""], "", False),
        (["xn--bcher-kva.example"], "bücher.example", True),  # a Unicode host, as A-labels
        (["*.xn--bcher-kva.example"], "a.Bücher.example", True),
    ],
)
def test_covers(names: list[str], host: str, expected: bool) -> None:
    assert covers(names, host) is expected


def test_uncovered_keeps_the_hosts_order() -> None:
    names = ["example.com", "*.example.com"]
    assert uncovered(names, []) == []
    assert uncovered(names, ["www.example.com", "example.com"]) == []
    assert uncovered(names, ["b.example.org", "a.b.example.com", "x.example.com", "a.org"]) == [
        "b.example.org", "a.b.example.com", "a.org"]
    assert uncovered([], ["example.com"]) == ["example.com"]
    assert uncovered(iter(names), ["a.example.com", "b.example.com"]) == []  # any iterable


def block(label: str, body: str = "QUJD\nREVG") -> bytes:
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n".encode()


CERT, CERT2 = block("CERTIFICATE", "Q0VSVDE="), block("CERTIFICATE", "Q0VSVDI=")
KEY = block("PRIVATE KEY", "S0VZU0VDUkVU")


def test_pem_blocks_in_order_text_around_ignored_and_line_ends_normalised() -> None:
    data = b"Bag Attributes\n  friendlyName: x\n" + CERT.replace(b"\n", b"\r\n") + b"junk\n" + KEY
    found = pem_blocks(data, "the input")
    assert [b.label for b in found] == ["CERTIFICATE", "PRIVATE KEY"]
    assert found[0].text == CERT and found[1].text == KEY


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "the input is not PEM"),
        (b"hello world\n", "the input is not PEM"),
        (b"\x30\x82\x01\x0a\x02", "the input is in DER form, not PEM"),
        (CERT[:-25], "a BEGIN line has no matching END line"),
        (b"-----BEGIN CERTIFICATE-----\nQUJD\n-----END PRIVATE KEY-----\n",
         "a BEGIN line has no matching END line"),
        (b"x" * (MAX_PEM + 1), "the input is larger than 1 MiB"),
    ],
)
def test_what_is_not_pem(data: bytes, says: str) -> None:
    with pytest.raises(UsageError, match=says):
        pem_blocks(data, "the input")


def test_certificates_the_leaf_then_its_chain() -> None:
    assert certificates(CERT + CERT2) == [CERT, CERT2]
    with pytest.raises(UsageError, match="holds a private key"):
        certificates(CERT + KEY)
    with pytest.raises(UsageError, match="holds a CERTIFICATE REQUEST block"):
        certificates(block("CERTIFICATE REQUEST"))
    with pytest.raises(UsageError, match="holds 11 certificates; at most 10"):
        certificates(CERT * 11)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (CERT, "holds a certificate, not a private key"),
        (KEY + KEY, "holds 2 private keys"),
        (block("ENCRYPTED PRIVATE KEY"), "encrypted private key"),
        (block("RSA PRIVATE KEY", "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nQUJD"),
         "encrypted private key"),
        (block("DSA PRIVATE KEY"), "holds a DSA PRIVATE KEY block, not a private key"),
        (block("PUBLIC KEY"), "holds no private key"),
        (KEY + block("X509 CRL"), "holds a X509 CRL block besides the key"),
    ],
)
def test_what_is_not_one_usable_key(data: bytes, says: str) -> None:
    with pytest.raises(UsageError, match=says) as refused:
        private_key(data)
    assert "S0VZU0VDUkVU" not in refused.value.message  # never the key's text


def test_a_key_alone_an_rsa_one_and_one_after_its_ec_parameters() -> None:
    assert private_key(KEY) == KEY
    rsa = block("RSA PRIVATE KEY")
    assert private_key(rsa) == rsa
    ec = block("EC PRIVATE KEY")
    assert private_key(block("EC PARAMETERS", "BggqhkjOPQMBBw==") + ec) == ec


def test_split_bundle_any_order() -> None:
    assert split_bundle(CERT + CERT2 + KEY) == (CERT + CERT2, KEY)
    assert split_bundle(KEY + CERT + CERT2) == (CERT + CERT2, KEY)
    with pytest.raises(UsageError, match="a private key but no certificate"):
        split_bundle(KEY)
    with pytest.raises(UsageError, match="the input holds no private key"):
        split_bundle(CERT)
    with pytest.raises(UsageError, match="the input holds 2 private keys"):
        split_bundle(CERT + KEY + KEY)


X509_TEXT = """\
subject=O=Ex\\, Inc,CN=example.com
issuer=CN=R3,O=Let's Encrypt,C=US
notBefore=2026-01-01 00:00:00Z
notAfter=2026-04-01 12:30:00Z
sha256 Fingerprint=7F:4E:AD
X509v3 Subject Alternative Name: critical
    DNS:example.com, DNS:*.example.com, IP Address:1.2.3.4, DNS:bad\x1bname, email:a@b.c
-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
-----END PUBLIC KEY-----
"""


def test_parse_x509() -> None:
    fields = parse_x509(X509_TEXT)
    assert fields.subject == "O=Ex\\, Inc,CN=example.com"
    assert fields.issuer == "CN=R3,O=Let's Encrypt,C=US"
    assert fields.not_before == datetime(2026, 1, 1, tzinfo=UTC)
    assert fields.not_after == datetime(2026, 4, 1, 12, 30, tzinfo=UTC)
    assert fields.fingerprint == "7F:4E:AD"
    assert fields.dns_names == ("example.com", "*.example.com")  # no IP, no control chars
    assert fields.names == fields.dns_names
    assert fields.public_key.startswith(b"-----BEGIN PUBLIC KEY-----\nMFkw")


def test_without_dns_names_the_common_name_is_the_name() -> None:
    text = X509_TEXT.replace("X509v3 Subject Alternative Name: critical\n", "").replace(
        "    DNS:example.com, DNS:*.example.com, IP Address:1.2.3.4, DNS:bad\x1bname, "
        "email:a@b.c\n", "")
    fields = parse_x509(text)
    assert fields.dns_names == () and fields.names == ("example.com",)
    odd = parse_x509(text.replace("CN=example.com", "CN=two words"))
    assert odd.names == ()  # not a host name: named as nothing
    with pytest.raises(ValueError, match="less than asked"):
        parse_x509(text.replace("notAfter=", "nope="))
    with pytest.raises(ValueError, match="less than asked"):
        parse_x509(text.split("-----BEGIN")[0])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("CN=example.com", "example.com"),
        ("O=Ex\\, Inc,CN=example.com", "example.com"),
        ("CN=a\\2Cb,O=x", "a,b"),
        ("CN=first,CN=last", "last"),
        ("cn=lower.example+O=multi", "lower.example"),
        ("O=no common name", None),
        ("", None),
    ],
)
def test_common_name(name: str, expected: str | None) -> None:
    assert common_name(name) == expected

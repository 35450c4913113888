"""An app's TLS certificate, as values: which host names a certificate covers (RFC 6125),
PEM blocks told apart (certificates, the private key), and what ``openssl x509`` says of a
certificate, parsed. Pure: bytes and text in, values out; running openssl is events' work.

No error sentence here quotes a private key: they name labels and counts, never content.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from gitdeploy.errors import UsageError

MAX_PEM = 1 << 20  # bytes of certificate and key input accepted
MAX_CHAIN = 10  # certificates: the leaf and its intermediates
CERTIFICATE = "CERTIFICATE"
KEY_LABELS = frozenset({"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"})
IGNORED_LABELS = frozenset({"EC PARAMETERS"})  # what `openssl ecparam -genkey` puts first
_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]{1,64})-----[ \t]*\r?\n(.*?)-----END \1-----",
                    re.DOTALL)


# --- host names ------------------------------------------------------------------------


def _normal(name: str) -> str:
    """Lower case, one trailing dot dropped, a Unicode name as its A-labels (xn--)."""
    name = name.strip().lower()
    name = name[:-1] if name.endswith(".") else name
    if not name.isascii():
        with contextlib.suppress(UnicodeError):
            name = name.encode("idna").decode("ascii")
    return name


def _matches(pattern: str, host: str) -> bool:
    if host.startswith("*.") and "*" not in host[2:]:
        return pattern == host  # a wildcard domain: the same wildcard in the certificate
    if not pattern or not host or "*" in host:
        return False
    if "*" not in pattern:
        return pattern == host
    # RFC 6125 6.4.3, as browsers apply it: the wildcard is the whole left-most label, it
    # matches exactly one label, and it sits above at least two labels (no *.com).
    first, dot, rest = pattern.partition(".")
    if first != "*" or not dot or "*" in rest or rest.count(".") < 1:
        return False
    label, dot, host_rest = host.partition(".")
    return bool(label) and bool(dot) and host_rest == rest


def covers(names: Iterable[str], host: str) -> bool:
    """Whether a certificate naming ``names`` (its DNS names) is valid for ``host``.

    Case-insensitive and trailing dots ignored; ``*.example.com`` covers ``a.example.com``,
    not ``example.com`` nor ``a.b.example.com``; partial wildcards (``w*.example.com``)
    cover nothing.
    """
    wanted = _normal(host)
    return any(_matches(_normal(name), wanted) for name in names)


def uncovered(names: Iterable[str], hosts: Iterable[str]) -> list[str]:
    """The hosts of ``hosts`` that ``names`` does not cover, in their order."""
    names = list(names)
    return [host for host in hosts if not covers(names, host)]


# --- PEM ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    label: str  # CERTIFICATE, PRIVATE KEY, ...
    text: bytes  # the block, BEGIN line to END line, with newline line ends

    @property
    def encrypted(self) -> bool:
        # PKCS#8's own label, or the legacy form's header (a colon: never in base64)
        return self.label == "ENCRYPTED PRIVATE KEY" or (
            b"Proc-Type:" in self.text and b"ENCRYPTED" in self.text)


def pem_blocks(data: bytes, what: str) -> list[Block]:
    """The PEM blocks of ``data`` in order (text around them is ignored, as openssl does).
    ``what`` ("the certificate") names the input in the error sentences."""
    if len(data) > MAX_PEM:
        raise UsageError(f"{what} is larger than {MAX_PEM // (1 << 20)} MiB")
    found = []
    for match in _BLOCK.finditer(data):
        label = match[1].decode()
        body = b"\n".join(line.rstrip() for line in match[2].strip().splitlines())
        found.append(Block(label, b"-----BEGIN %s-----\n%s\n-----END %s-----\n"
                           % (match[1], body, match[1])))
    if data.count(b"-----BEGIN ") != len(found):
        raise UsageError(f"{what} is not valid PEM: a BEGIN line has no matching END line")
    if not found:
        if data[:1] == b"\x30":
            raise UsageError(f"{what} is in DER form, not PEM: convert it with "
                             "`openssl x509 -inform der -in FILE -out FILE.pem` (or "
                             "`openssl pkey -inform der ...` for a key)")
        raise UsageError(f"{what} is not PEM (no -----BEGIN ...----- line)")
    return found


def certificates(data: bytes) -> list[bytes]:
    """The certificate blocks of a certificate input: the leaf, then its intermediates."""
    blocks = pem_blocks(data, "the certificate")
    for block in blocks:
        if "PRIVATE KEY" in block.label:
            raise UsageError("the certificate input holds a private key: the key goes in "
                             "a file of its own (are the certificate and the key swapped?)")
        if block.label != CERTIFICATE:
            raise UsageError(f"the certificate input holds a {block.label} block: only "
                             "CERTIFICATE blocks (the certificate, then its chain) belong there")
    return _chain([block.text for block in blocks])


def _chain(found: list[bytes]) -> list[bytes]:
    if len(found) > MAX_CHAIN:
        raise UsageError(f"the certificate input holds {len(found)} certificates; at most "
                         f"{MAX_CHAIN} (the certificate and its intermediates)")
    return found


def private_key(data: bytes) -> bytes:
    """The one unencrypted private key block of a key input."""
    blocks = [b for b in pem_blocks(data, "the key") if b.label not in IGNORED_LABELS]
    return _one_key(blocks, "the key input")


def _one_key(blocks: list[Block], what: str) -> bytes:
    keys = [b for b in blocks if "PRIVATE KEY" in b.label]
    if not keys:
        if any(b.label == CERTIFICATE for b in blocks):
            raise UsageError(f"{what} holds a certificate, not a private key (are the "
                             "certificate and the key swapped?)")
        raise UsageError(f"{what} holds no private key (a -----BEGIN PRIVATE KEY----- block)")
    if len(keys) > 1:
        raise UsageError(f"{what} holds {len(keys)} private keys; give exactly one")
    if keys[0].encrypted:
        raise UsageError(f"{what} holds an encrypted private key: remove its passphrase "
                         "first (`openssl pkey -in KEY -out KEY.plain`)")
    if keys[0].label not in KEY_LABELS:
        raise UsageError(f"{what} holds a {keys[0].label} block, not a private key openssl "
                         "reads")
    others = [b.label for b in blocks if b is not keys[0] and b.label != CERTIFICATE]
    if others:
        raise UsageError(f"{what} holds a {others[0]} block besides the key")
    return keys[0].text


def split_bundle(data: bytes) -> tuple[bytes, bytes]:
    """Certificates and key given together (one stream: the certificate, its chain and the
    key, in any order): the certificate blocks, joined, and the key block."""
    blocks = [b for b in pem_blocks(data, "the input") if b.label not in IGNORED_LABELS]
    if not any("PRIVATE KEY" in b.label for b in blocks):
        raise UsageError("the input holds no private key (send the certificate, its chain, "
                         "then the key)")
    key = _one_key(blocks, "the input")
    certs = [b.text for b in blocks if b.label == CERTIFICATE]
    if not certs:
        raise UsageError("the input holds a private key but no certificate (send the "
                         "certificate, its chain, then the key)")
    return b"".join(_chain(certs)), key


# --- what openssl says of a certificate ----------------------------------------------


@dataclass(frozen=True)
class X509Fields:
    """``openssl x509 -noout -subject -issuer -startdate -enddate -fingerprint -sha256
    -ext subjectAltName -pubkey -nameopt RFC2253 -dateopt iso_8601``, parsed."""

    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    fingerprint: str  # SHA-256 of the DER, colon-separated hex
    dns_names: tuple[str, ...]  # subjectAltName DNS entries; () when it has none
    public_key: bytes  # PEM SubjectPublicKeyInfo

    @property
    def names(self) -> tuple[str, ...]:
        """The names the certificate is for: its DNS names, else (RFC 6125 6.4.4) its CN."""
        if self.dns_names:
            return self.dns_names
        common = common_name(self.subject)
        return (common,) if common and _printable(common) else ()


def parse_x509(text: str) -> X509Fields:
    """Raises ValueError when a field is missing (openssl's output was not what it asked)."""
    fields: dict[str, str] = {}
    lines = text.splitlines()
    dns: list[str] = []
    for number, line in enumerate(lines):
        name, equals, value = line.partition("=")
        if equals and name.lower() in ("subject", "issuer", "notbefore", "notafter",
                                       "sha256 fingerprint"):
            fields[name.lower()] = value.strip()
        elif line.startswith("X509v3 Subject Alternative Name") and number + 1 < len(lines):
            entries = lines[number + 1].strip().split(", ")
            dns = [e[4:] for e in entries if e.startswith("DNS:") and _printable(e[4:])]
    key = re.search(r"-----BEGIN PUBLIC KEY-----\n.*?-----END PUBLIC KEY-----\n?", text,
                    re.DOTALL)
    if key is None or len(fields) != 5:
        raise ValueError("openssl x509 printed less than asked")
    return X509Fields(fields["subject"], fields["issuer"], _when(fields["notbefore"]),
                      _when(fields["notafter"]), fields["sha256 fingerprint"], tuple(dns),
                      key[0].encode())


def _when(stamp: str) -> datetime:
    """``2026-12-09 01:15:05Z`` (openssl's -dateopt iso_8601) as an aware datetime."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _printable(name: str) -> bool:
    """A name safe to show and compare: printable ASCII, no space or comma."""
    return bool(name) and all(0x21 <= ord(c) <= 0x7E and c != "," for c in name)


def common_name(rfc2253: str) -> str | None:
    """The (last) CN of a name in RFC 2253 form, its escapes undone."""
    found = None
    for part in re.split(r"(?<!\\)[,+]", rfc2253):
        attribute, equals, value = part.partition("=")
        if equals and attribute.strip().upper() == "CN":
            found = re.sub(r"\\([0-9A-Fa-f]{2}|.)",
                           lambda m: chr(int(m[1], 16)) if len(m[1]) == 2 else m[1], value)
    return found

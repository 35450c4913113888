"""An app's TLS certificate, the operator's own (no ACME): certs:add checks it with the
``openssl`` binary and stores it, certs shows it, certs:remove drops it.

Stored as ``apps/APP/tls/cert.pem`` (the certificate, then its chain; 0644) and
``apps/APP/tls/key.pem`` (0600). ``tls`` is a symlink to a directory written in full first
and swapped in by rename(2): a reader sees the old pair or the new one, never a certificate
with another one's key.

The private key reaches openssl on its stdin only: never argv, a log line or an error
sentence (openssl's own messages about it are not passed on either).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from gitdeploy.appconfig.tls import (
    MAX_PEM,
    X509Fields,
    certificates,
    parse_x509,
    private_key,
    uncovered,
)
from gitdeploy.errors import GitdeployError, UsageError
from gitdeploy.store import oplog
from gitdeploy.store.fsops import (
    atomic_write,
    private_dir,
    read_link,
    read_regular_file,
    remove_file,
    remove_tree,
    swap_symlink,
)
from gitdeploy.store.layout import Layout
from gitdeploy.store.locks import FileLock
from gitdeploy.store.server import Server

OPENSSL_TIMEOUT = 10.0
LOCK_WAIT = 30.0
STAGED = ".tls-"  # apps/APP/.tls-*: the directories tls points at, and leftovers
X509_ARGS = ["x509", "-noout", "-nameopt", "RFC2253", "-dateopt", "iso_8601", "-subject",
             "-issuer", "-startdate", "-enddate", "-fingerprint", "-sha256",
             "-ext", "subjectAltName", "-pubkey"]


@dataclass(frozen=True)
class CertInfo:
    names: tuple[str, ...]  # the DNS names it is for (subjectAltName; else its CN)
    not_before: str  # ISO 8601, UTC
    not_after: str
    issuer: str  # RFC 2253
    fingerprint: str  # SHA-256 of the certificate, colon-separated hex
    self_signed: bool
    chain: int  # certificates given: 1 for the certificate alone


def _openssl(args: list[str], data: bytes) -> subprocess.CompletedProcess[bytes]:
    """openssl ARGS with ``data`` on its stdin, in a session of its own (no terminal to ask
    a passphrase on)."""
    try:
        return subprocess.run(["openssl", *args], input=data, capture_output=True,
                              timeout=OPENSSL_TIMEOUT, check=False, start_new_session=True)
    except FileNotFoundError:
        raise GitdeployError("openssl is not installed (Debian package openssl)") from None
    except subprocess.TimeoutExpired:
        raise GitdeployError(f"openssl {args[0]} did not finish in "
                             f"{OPENSSL_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise GitdeployError(f"openssl could not run ({exc.strerror})") from None


def _x509(block: bytes, position: int) -> X509Fields:
    what = "the certificate" if position == 0 else f"certificate {position + 1} of the chain"
    done = _openssl(X509_ARGS, block)
    if done.returncode != 0:
        if b"nknown option" in done.stderr or b"nrecognized flag" in done.stderr:
            raise GitdeployError("this openssl is too old: certificates need OpenSSL 3.0 "
                                 "or later")
        raise UsageError(f"{what} is not a valid X.509 certificate (openssl cannot read it)")
    try:
        return parse_x509(done.stdout.decode(errors="replace"))
    except ValueError:
        raise GitdeployError(f"openssl's description of {what} was not understood") from None


def _chain(cert_pem: bytes) -> list[X509Fields]:
    """Every certificate of the input, parsed; each one after the first must have issued
    the one before it."""
    chain = [_x509(block, n) for n, block in enumerate(certificates(cert_pem))]
    for n in range(1, len(chain)):
        if chain[n].subject != chain[n - 1].issuer:
            raise UsageError(f"certificate {n + 1} of the chain did not issue certificate "
                             f"{n}: give the certificate first, then each one's issuer")
    return chain


def _public_key(key_block: bytes) -> bytes:
    done = _openssl(["pkey", "-pubout"], key_block)
    if done.returncode != 0:
        raise UsageError("the key is not a private key openssl can read")
    return done.stdout


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _info(chain: list[X509Fields]) -> CertInfo:
    leaf = chain[0]
    return CertInfo(leaf.names, _stamp(leaf.not_before), _stamp(leaf.not_after), leaf.issuer,
                    leaf.fingerprint, leaf.subject == leaf.issuer, len(chain))


def _listed(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"it names {shown}" if names else "it names no host"


def inspect(cert_pem: bytes, key_pem: bytes, hosts: list[str],
            now: datetime | None = None) -> CertInfo:
    """What the certificate is, once it passes every check: it parses (PEM X.509, its chain
    after it), the key parses and is the certificate's, it is valid at ``now`` (default:
    the present; naive: UTC), and it covers every one of ``hosts``. UsageError says what fails."""
    chain = _chain(cert_pem)
    leaf = chain[0]
    key = private_key(key_pem)
    if _public_key(key).split() != leaf.public_key.split():
        raise UsageError("the key does not match the certificate (their public keys differ): "
                         "give the key the certificate was issued for")
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:  # a naive time is taken as UTC
        moment = moment.replace(tzinfo=UTC)
    if moment > leaf.not_after:
        raise UsageError(f"the certificate expired on {leaf.not_after:%Y-%m-%d %H:%M:%S} UTC")
    if moment < leaf.not_before:
        raise UsageError("the certificate is not valid yet: it starts on "
                         f"{leaf.not_before:%Y-%m-%d %H:%M:%S} UTC")
    missing = uncovered(leaf.names, hosts)
    if missing:
        raise UsageError(f"the certificate does not cover {', '.join(missing)} "
                         f"({_listed(leaf.names)})")
    return _info(chain)


@contextmanager
def _locked(layout: Layout, app: str) -> Iterator[None]:
    """One certificate change of the app at a time."""
    private_dir(layout.locks_dir(app))
    lock = FileLock(layout.tls_lock(app))
    if not lock.acquire(timeout=LOCK_WAIT):
        raise GitdeployError(f"another certificate change of {app} is still running")
    try:
        yield
    finally:
        lock.release()


def _sweep(layout: Layout, app: str, keep: str | None) -> None:
    """Remove the app's certificate directories but ``keep`` (the one tls points at)."""
    for path in layout.app_dir(app).glob(f"{STAGED}*"):
        if path.name != keep:
            remove_tree(path)


def _store(layout: Layout, app: str, cert: bytes, key: bytes) -> None:
    staged = private_dir(layout.app_dir(app) / f"{STAGED}{os.getpid()}-{time.time_ns()}")
    atomic_write(staged / "key.pem", key, 0o600)
    atomic_write(staged / "cert.pem", cert, 0o644)
    link = layout.tls_dir(app)
    if link.is_dir() and not link.is_symlink():  # a directory put there by hand
        os.rename(link, link.with_name(f"{STAGED}replaced-{os.getpid()}"))
    swap_symlink(link, staged.name)
    _sweep(layout, app, staged.name)


def add_cert(server: Server, app: str, cert_pem: bytes, key_pem: bytes,
             hosts: list[str]) -> CertInfo:
    """Check the certificate and key (inspect) and make them the app's."""
    server.app(app)
    info = inspect(cert_pem, key_pem, hosts)
    with _locked(server.layout, app):
        _store(server.layout, app, b"".join(certificates(cert_pem)), private_key(key_pem))
    oplog.bind(app=app, user=server.user).info(
        "cert.added", names=list(info.names), not_after=info.not_after,
        fingerprint=info.fingerprint, self_signed=info.self_signed)
    return info


def cert_of(server: Server, app: str) -> CertInfo | None:
    """The app's stored certificate (whether or not it is still valid); None if it has
    none."""
    server.app(app)
    try:
        data = read_regular_file(server.layout.tls_dir(app), "cert.pem", MAX_PEM)
        if data is None:
            return None
        return _info(_chain(data))
    except (ValueError, UsageError) as exc:
        problem = exc.message if isinstance(exc, UsageError) else str(exc)
        raise GitdeployError(f"{app}'s stored certificate is damaged ({problem}): add it "
                             "again with certs:add") from None


def remove_cert(server: Server, app: str) -> bool:
    """Drop the app's certificate and key; False if it had none."""
    server.app(app)
    layout = server.layout
    with _locked(layout, app):
        link = layout.tls_dir(app)
        had = read_link(link) is not None or link.exists()
        if link.is_symlink():
            remove_file(link)
        else:
            remove_tree(link)
        _sweep(layout, app, None)
    if had:
        oplog.bind(app=app, user=server.user).info("cert.removed")
    return had

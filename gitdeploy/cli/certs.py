"""certs, certs:add, certs:remove."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from gitdeploy.appconfig.tls import MAX_PEM, split_bundle
from gitdeploy.cli.common import app_of, out
from gitdeploy.cli.render import parse_time
from gitdeploy.errors import EXIT_OK, UsageError
from gitdeploy.events.certs import CertInfo, add_cert, cert_of, remove_cert
from gitdeploy.events.domains import app_domains, change_tls
from gitdeploy.store import oplog
from gitdeploy.store.server import Server

STDIN_USAGE = "cat CERT KEY | gitdeploy certs:add -a APP -"


def _app_hosts(server: Server, app: str) -> list[str]:
    """The host names the app's certificate must cover: its own domains (or, with none,
    the server's default one, APP.DOMAIN)."""
    return [host for host, kind in app_domains(server, app) if kind == "custom"] or \
        [host for host, _ in app_domains(server, app)]


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_PEM + 1)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a PEM file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path} ({exc.strerror})") from None
    if len(data) > MAX_PEM:
        raise UsageError(f"{path} is larger than {MAX_PEM >> 20} MiB: not a certificate or key")
    return data


def _read_stdin() -> bytes:
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError(f"certs:add - reads the certificate and key from stdin: pipe them in "
                         f"({STDIN_USAGE})")
    data = sys.stdin.buffer.read(MAX_PEM + 1)
    if len(data) > MAX_PEM:
        raise UsageError(f"stdin holds more than {MAX_PEM >> 20} MiB: not a certificate and key")
    if not data:
        raise UsageError(f"nothing on stdin: send the certificate, its chain and the key "
                         f"({STDIN_USAGE})")
    return data


def _inputs(server: Server, args: argparse.Namespace) -> tuple[bytes, bytes]:
    if args.cert == "-":
        if args.key is not None:
            raise UsageError("with -, the certificate and the key both come from stdin: "
                             "name no KEY file")
        return split_bundle(_read_stdin())
    if server.access is not None:  # over ssh: files of the server are not the client's
        raise UsageError("over ssh, certs:add reads the certificate and key from stdin: "
                         f"{STDIN_USAGE}")
    if args.key is None:
        raise UsageError("name the key file too: certs:add -a APP CERT KEY (or - to read "
                         "both from stdin)")
    return _read_file(args.cert), _read_file(args.key)


def _expiry(info: CertInfo, now: datetime) -> str:
    left = (parse_time(info.not_after) - now).total_seconds()
    hours = int(abs(left) // 3600)
    span = f"{hours // 24} days" if hours >= 48 else "1 hour" if hours == 1 else f"{hours} hours"
    moment = f"{parse_time(info.not_after):%Y-%m-%d %H:%M:%S} UTC"
    return f"{moment} (expired {span} ago)" if left < 0 else f"{moment} (in {span})"


def _as_json(info: CertInfo) -> dict[str, object]:
    return {"names": list(info.names), "not_before": info.not_before,
            "not_after": info.not_after, "issuer": info.issuer,
            "fingerprint": info.fingerprint, "self_signed": info.self_signed,
            "chain": info.chain}


def _describe(app: str, info: CertInfo) -> list[str]:
    labels = [
        ("Names", ", ".join(info.names) or "-"),
        ("Expires", _expiry(info, datetime.now(UTC))),
        ("Issuer", info.issuer + (" (self-signed)" if info.self_signed else "")),
        ("Chain", {1: "none", 2: "1 intermediate"}.get(info.chain,
                                                        f"{info.chain - 1} intermediates")),
        ("SHA-256", info.fingerprint),
    ]
    width = max(len(label) for label, _ in labels) + 1
    return [f"=== {app} Certificate",
            *(f"{label + ':':<{width}} {value}" for label, value in labels)]


def cmd_certs(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    info = cert_of(server, app)
    if args.json:
        out(json.dumps(_as_json(info) if info else None, indent=2))
    elif info is None:
        out(f"{app} has no certificate (add one with certs:add -a {app} CERT KEY)")
    else:
        for line in _describe(app, info):
            out(line)
    return EXIT_OK


def cmd_certs_add(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    cert, key = _inputs(server, args)
    oplog.start(server.layout.oplog)
    info = change_tls(server, app, lambda: add_cert(server, app, cert, key,
                                                    _app_hosts(server, app)))
    out(f"Added {app}'s certificate")
    for line in _describe(app, info)[1:]:
        out(line)
    if info.self_signed:
        out("It is self-signed: browsers will warn about it")
    return EXIT_OK


def cmd_certs_remove(server: Server, args: argparse.Namespace) -> int:
    app = app_of(server, args)
    oplog.start(server.layout.oplog)
    if change_tls(server, app, lambda: remove_cert(server, app)):
        out(f"Removed {app}'s certificate and key")
    else:
        out(f"{app} has no certificate: nothing removed")
    return EXIT_OK

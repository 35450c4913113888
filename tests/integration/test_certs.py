"""An app's TLS certificate with real certificates, made by the openssl binary: certs:add
from files and from stdin (over ssh too), certs, certs:remove; every bad input refused with
one sentence (exit 2) and nothing stored; the private key never shown or logged."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gitdeploy.errors import GitdeployError, UsageError
from gitdeploy.events import certs
from gitdeploy.store.server import Server as GdServer
from tests.support.gd import GITDEPLOY, Server, run
from tests.support.sshd import make_client_key

CA_CONFIG = """\
[ca]
default_ca = here
[here]
database = index.txt
new_certs_dir = .
default_md = sha256
policy = anything
copy_extensions = copy
rand_serial = yes
unique_subject = no
[anything]
commonName = supplied
"""


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path

    @property
    def key_lines(self) -> list[str]:
        """The key's base64 lines: none may ever appear in output or a log."""
        return [line for line in self.key.read_text().splitlines() if "-----" not in line]

    def bundle(self, *chain: Path) -> str:
        return "".join(p.read_text() for p in (self.cert, *chain, self.key))


class Maker:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        (directory / "index.txt").touch()
        (directory / "ca.cnf").write_text(CA_CONFIG)

    def openssl(self, *args: str | Path) -> None:
        run(["openssl", *map(str, args)], cwd=self.dir, timeout=30)

    def request(self, name: str, cn: str, sans: list[str], rsa: bool = False) -> Path:
        """A new key (name.key) and its certificate request (name.csr)."""
        algorithm = ["rsa:2048"] if rsa else ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        self.openssl("req", "-new", "-newkey", *algorithm, "-nodes", "-keyout", f"{name}.key",
                     "-out", f"{name}.csr", "-subj", f"/CN={cn}",
                     *(["-addext", "subjectAltName=" + ",".join(f"DNS:{n}" for n in sans)]
                       if sans else []))
        return self.dir / f"{name}.csr"

    def self_signed(self, name: str, cn: str, sans: list[str], days: int = 30,
                    rsa: bool = False) -> Pair:
        algorithm = ["rsa:2048"] if rsa else ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        self.openssl("req", "-x509", "-newkey", *algorithm, "-nodes", "-keyout", f"{name}.key",
                     "-out", f"{name}.pem", "-subj", f"/CN={cn}", "-days", str(days),
                     *(["-addext", "subjectAltName=" + ",".join(f"DNS:{n}" for n in sans)]
                       if sans else []))
        return Pair(self.dir / f"{name}.pem", self.dir / f"{name}.key")

    def dated(self, name: str, cn: str, start: str, end: str) -> Pair:
        """Self-signed, valid from ``start`` to ``end`` (YYYYMMDDHHMMSSZ): `openssl ca` sets
        both dates, so an expired certificate is a real one, not a clock trick."""
        csr = self.request(name, cn, [cn])
        self.openssl("ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", f"{name}.key",
                     "-in", csr, "-startdate", start, "-enddate", end, "-notext",
                     "-out", f"{name}.pem")
        return Pair(self.dir / f"{name}.pem", self.dir / f"{name}.key")

    def signed(self, name: str, cn: str, sans: list[str], issuer: Pair, ca: bool) -> Pair:
        csr = self.request(name, cn, sans)
        extensions = self.dir / f"{name}.ext"
        extensions.write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign\n" if ca
                              else "subjectAltName=" + ",".join(f"DNS:{n}" for n in sans) + "\n")
        self.openssl("x509", "-req", "-in", csr, "-CA", issuer.cert, "-CAkey", issuer.key,
                     "-set_serial", str(abs(hash(name)) % 10**9), "-days", "30",
                     "-extfile", extensions, "-out", f"{name}.pem")
        return Pair(self.dir / f"{name}.pem", self.dir / f"{name}.key")


@dataclass(frozen=True)
class Material:
    dir: Path
    rsa: Pair  # self-signed, shop.example and www.shop.example
    other: Pair  # another key
    wildcard: Pair  # *.shop.example only
    cn_only: Pair  # no subjectAltName
    short: Pair  # one day
    expired: Pair
    future: Pair
    root: Pair
    intermediate: Pair
    leaf: Pair  # signed by intermediate, signed by root

    @property
    def pairs(self) -> list[Pair]:
        return [self.rsa, self.other, self.wildcard, self.cn_only, self.short, self.expired,
                self.future, self.root, self.intermediate, self.leaf]


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Material:
    make = Maker(tmp_path_factory.mktemp("certs"))
    root = make.self_signed("root", "Test Root", [])
    intermediate = make.signed("intermediate", "Test Intermediate", [], root, ca=True)
    return Material(
        make.dir,
        rsa=make.self_signed("rsa", "shop.example", ["shop.example", "www.shop.example"],
                             rsa=True),
        other=make.self_signed("other", "shop.example", ["shop.example"]),
        wildcard=make.self_signed("wildcard", "wild", ["*.shop.example"]),
        cn_only=make.self_signed("cn", "plain.example", []),
        short=make.self_signed("short", "short.example", ["short.example"], days=1),
        expired=make.dated("expired", "old.example", "20200101000000Z", "20200201000000Z"),
        future=make.dated("future", "soon.example", "20990101000000Z", "20991231000000Z"),
        root=root,
        intermediate=intermediate,
        leaf=make.signed("leaf", "shop.example", ["shop.example", "api.shop.example"],
                         intermediate, ca=False),
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Server:
    """A server with the apps shop and blog (they only hold certificates here)."""
    server = Server(tmp_path_factory.mktemp("site") / "root")
    server.env["GITDEPLOY_AUTHORIZED_KEYS"] = str(server.root.parent / "authorized_keys")
    server.gd("apps:create", "shop")
    server.gd("apps:create", "blog")
    return server


@pytest.fixture
def shop(site: Server) -> Iterator[Server]:
    """The site, shop holding no certificate before and after the test."""
    site.gd("certs:remove", "-a", "shop")
    yield site
    site.gd("certs:remove", "-a", "shop")


def tls(server: Server, app: str = "shop") -> Path:
    return server.root / "apps" / app / "tls"


def assert_no_key_in(material: Material, *texts: str) -> None:
    for pair in material.pairs:
        for line in pair.key_lines:
            for text in texts:
                assert line not in text


def fingerprint(pair: Pair) -> str:
    said = run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(pair.cert)])
    return said.stdout.strip().split("=", 1)[1]


def test_a_certificate_is_added_shown_and_removed(shop: Server, material: Material) -> None:
    assert shop.gd("certs", "-a", "shop").stdout == (
        "shop has no certificate (add one with certs:add -a shop CERT KEY)\n")
    assert json.loads(shop.gd("certs", "-a", "shop", "--json").stdout) is None
    added = shop.gd("certs:add", "-a", "shop", str(material.rsa.cert), str(material.rsa.key))
    assert added.stdout.startswith("Added shop's certificate\n")
    assert "Names:   shop.example, www.shop.example\n" in added.stdout
    assert "Issuer:  CN=shop.example (self-signed)\n" in added.stdout
    assert "(in 29 days)" in added.stdout and "browsers will warn" in added.stdout
    cert, key = tls(shop) / "cert.pem", tls(shop) / "key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(cert.stat().st_mode) == 0o644
    assert key.read_bytes() == material.rsa.key.read_bytes()
    assert cert.read_bytes() == material.rsa.cert.read_bytes()
    shown = shop.gd("certs", "-a", "shop")
    assert shown.stdout.startswith("=== shop Certificate\nNames:   shop.example, www.shop")
    assert f"SHA-256: {fingerprint(material.rsa)}\n" in shown.stdout
    info = json.loads(shop.gd("certs", "-a", "shop", "--json").stdout)
    end = run(["openssl", "x509", "-noout", "-enddate", "-dateopt", "iso_8601", "-in",
               str(material.rsa.cert)]).stdout.strip().split("=")[1]
    assert info == {"names": ["shop.example", "www.shop.example"],
                    "not_before": info["not_before"], "not_after": end.replace(" ", "T"),
                    "issuer": "CN=shop.example", "fingerprint": fingerprint(material.rsa),
                    "self_signed": True, "chain": 1}
    removed = shop.gd("certs:remove", "-a", "shop")
    assert removed.stdout == "Removed shop's certificate and key\n"
    assert not tls(shop).exists() and not list((shop.root / "apps/shop").glob(".tls-*"))
    assert "shop has no certificate" in shop.gd("certs", "-a", "shop").stdout
    assert shop.gd("certs:remove", "-a", "shop").stdout == (
        "shop has no certificate: nothing removed\n")
    log = (shop.root / "log" / "gitdeploy.jsonl").read_text()
    events = [json.loads(line) for line in log.splitlines()]
    assert any(e["event"] == "cert.added" and e["app"] == "shop" and
               e["fingerprint"] == fingerprint(material.rsa) for e in events)
    assert any(e["event"] == "cert.removed" for e in events)
    assert_no_key_in(material, added.stdout, added.stderr, shown.stdout, log)


def test_a_chain_and_its_key_from_stdin_replace_the_certificate(shop: Server,
                                                               material: Material) -> None:
    shop.gd("certs:add", "-a", "shop", str(material.other.cert), str(material.other.key))
    bundle = material.leaf.bundle(material.intermediate.cert)
    added = shop.gd("certs:add", "-a", "shop", "-", input=bundle)
    assert "Names:   shop.example, api.shop.example\n" in added.stdout
    assert "Issuer:  CN=Test Intermediate\n" in added.stdout
    assert "Chain:   1 intermediate\n" in added.stdout and "self-signed" not in added.stdout
    stored = (tls(shop) / "cert.pem").read_text()
    assert stored == material.leaf.cert.read_text() + material.intermediate.cert.read_text()
    assert (tls(shop) / "key.pem").read_text() == material.leaf.key.read_text()
    staged = list((shop.root / "apps/shop").glob(".tls-*"))  # the old pair is gone
    assert len(staged) == 1 and os.readlink(tls(shop)) == staged[0].name
    key_first = material.leaf.key.read_text() + material.leaf.cert.read_text()
    assert shop.gd("certs:add", "-a", "shop", "-", input=key_first).returncode == 0
    assert_no_key_in(material, added.stdout, added.stderr)


def files(m: Material) -> Path:
    """Bad files, made once: text, DER, PEM holding garbage, an encrypted key, 1 MiB + 1."""
    d = m.dir
    if not (d / "huge.pem").exists():
        (d / "notes.txt").write_text("hello\n")
        run(["openssl", "x509", "-in", str(m.rsa.cert), "-outform", "der", "-out",
             str(d / "c.der")])
        (d / "garbage.pem").write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n"
                                       "-----END CERTIFICATE-----\n")
        (d / "garbage.key").write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n"
                                       "-----END PRIVATE KEY-----\n")
        run(["openssl", "pkey", "-in", str(m.rsa.key), "-aes256", "-passout", "pass:pw",
             "-out", str(d / "encrypted.key")])
        (d / "huge.pem").write_bytes(b"#" * ((1 << 20) + 1))
    return d


Case = tuple[list[str], str | None, str]  # certs:add arguments, stdin, what stderr says
BAD: dict[str, Callable[[Material, Path], Case]] = {
    "missing file": lambda m, d: ([f"{d}/nope.pem", str(m.rsa.key)], None,
                                  f"{d}/nope.pem: no such file"),
    "directory": lambda m, d: ([str(d), str(m.rsa.key)], None,
                               f"{d} is a directory, not a PEM file"),
    "unreadable": lambda m, d: ([f"{d}/notes.txt/cert.pem", str(m.rsa.key)], None,
                                f"cannot read {d}/notes.txt/cert.pem (Not a directory)"),
    "oversized": lambda m, d: ([f"{d}/huge.pem", str(m.rsa.key)], None,
                               "huge.pem is larger than 1 MiB"),
    "not PEM": lambda m, d: ([f"{d}/notes.txt", str(m.rsa.key)], None,
                             "the certificate is not PEM"),
    "DER": lambda m, d: ([f"{d}/c.der", str(m.rsa.key)], None,
                         "the certificate is in DER form, not PEM"),
    "garbage certificate": lambda m, d: ([f"{d}/garbage.pem", str(m.rsa.key)], None,
                                         "the certificate is not a valid X.509 certificate"),
    "garbage key": lambda m, d: ([str(m.rsa.cert), f"{d}/garbage.key"], None,
                                 "the key is not a private key openssl can read"),
    "encrypted key": lambda m, d: ([str(m.rsa.cert), f"{d}/encrypted.key"], None,
                                   "holds an encrypted private key"),
    "mismatched key": lambda m, d: ([str(m.rsa.cert), str(m.other.key)], None,
                                    "the key does not match the certificate"),
    "swapped": lambda m, d: ([str(m.rsa.key), str(m.rsa.cert)], None,
                             "are the certificate and the key swapped?"),
    "a certificate as the key": lambda m, d: (
        [str(m.rsa.cert), str(m.rsa.cert)], None,
        "the key input holds a certificate, not a private key"),
    "expired": lambda m, d: ([str(m.expired.cert), str(m.expired.key)], None,
                             "the certificate expired on 2020-02-01 00:00:00 UTC"),
    "not yet valid": lambda m, d: (
        [str(m.future.cert), str(m.future.key)], None,
        "the certificate is not valid yet: it starts on 2099-01-01 00:00:00 UTC"),
    "chain out of order": lambda m, d: (
        ["-"], m.intermediate.cert.read_text() + m.leaf.cert.read_text()
        + m.leaf.key.read_text(), "certificate 2 of the chain did not issue certificate 1"),
    "empty stdin": lambda m, d: (["-"], "", "nothing on stdin"),
    "no key on stdin": lambda m, d: (["-"], m.rsa.cert.read_text(),
                                     "the input holds no private key"),
    "no certificate on stdin": lambda m, d: (
        ["-"], m.rsa.key.read_text(), "the input holds a private key but no certificate"),
    "two keys on stdin": lambda m, d: (["-"], m.rsa.bundle() + m.other.key.read_text(),
                                       "the input holds 2 private keys"),
    "stdin and a key file": lambda m, d: (["-", str(m.rsa.key)], None, "name no KEY file"),
    "no key file": lambda m, d: ([str(m.rsa.cert)], None, "name the key file too"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_refused_with_one_sentence_and_nothing_stored(
        site: Server, material: Material, case: str) -> None:
    args, stdin, says = BAD[case](material, files(material))
    done = site.gd("certs:add", "-a", "shop", *args, check=False,
                   input=stdin if stdin is not None else "")
    assert done.returncode == 2, (args, done.stderr)
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert says in done.stderr, (args, done.stderr)
    assert done.stdout == "" and "Traceback" not in done.stderr
    assert not tls(site).exists()
    log = site.root / "log" / "gitdeploy.jsonl"
    assert_no_key_in(material, done.stderr, log.read_text() if log.exists() else "")


def test_a_refused_certificate_leaves_the_stored_one(shop: Server, material: Material) -> None:
    shop.gd("certs:add", "-a", "shop", str(material.rsa.cert), str(material.rsa.key))
    before = (tls(shop) / "cert.pem").read_bytes()
    refused = shop.gd("certs:add", "-a", "shop", str(material.expired.cert),
                      str(material.expired.key), check=False)
    assert refused.returncode == 2 and (tls(shop) / "cert.pem").read_bytes() == before
    missing = shop.gd("certs", "-a", "nope", check=False)
    assert missing.returncode == 2 and "no app named 'nope'" in missing.stderr


def read(pair: Pair) -> tuple[bytes, bytes]:
    return pair.cert.read_bytes(), pair.key.read_bytes()


def test_inspect_checks_the_hosts_rfc_6125_wildcards_and_the_common_name(
        material: Material) -> None:
    info = certs.inspect(*read(material.wildcard), ["a.shop.example", "WWW.shop.example."])
    assert info.names == ("*.shop.example",)
    for host in ("shop.example", "a.b.shop.example"):
        with pytest.raises(UsageError) as refused:
            certs.inspect(*read(material.wildcard), ["a.shop.example", host])
        assert refused.value.message == (f"the certificate does not cover {host} "
                                         "(it names *.shop.example)")
    plain = certs.inspect(*read(material.cn_only), ["plain.example"])  # no SAN: the CN
    assert plain.names == ("plain.example",) and plain.self_signed
    with pytest.raises(UsageError, match=r"does not cover a\.plain\.example"):
        certs.inspect(*read(material.cn_only), ["a.plain.example"])
    chained = certs.inspect(*read(material.leaf), ["api.shop.example"])
    assert chained.issuer == "CN=Test Intermediate" and not chained.self_signed


def test_inspect_checks_validity_at_now(material: Material) -> None:
    cert, key = read(material.short)  # valid from its making, for one day
    now = datetime.now(UTC)
    assert certs.inspect(cert, key, [], now=now + timedelta(hours=23)).chain == 1
    with pytest.raises(UsageError, match="the certificate expired on"):
        certs.inspect(cert, key, [], now=now + timedelta(days=2))
    with pytest.raises(UsageError, match="the certificate is not valid yet"):
        certs.inspect(cert, key, [], now=now - timedelta(hours=1))
    old = certs.inspect(*read(material.expired), [], now=datetime(2020, 1, 15))  # naive: UTC
    assert old.not_before == "2020-01-01T00:00:00Z" and old.not_after == "2020-02-01T00:00:00Z"


def test_add_cert_checks_the_hosts_and_cert_of_reads_it_back(site: Server,
                                                            material: Material) -> None:
    server = GdServer(site.root)
    try:
        certs.remove_cert(server, "blog")
        with pytest.raises(UsageError, match=r"does not cover blog\.example"):
            certs.add_cert(server, "blog", *read(material.rsa), ["blog.example"])
        assert certs.cert_of(server, "blog") is None
        info = certs.add_cert(server, "blog", *read(material.rsa), ["www.shop.example"])
        assert certs.cert_of(server, "blog") == info
        (site.root / "apps/blog/tls/cert.pem").write_text("damaged")
        with pytest.raises(GitdeployError, match="blog's stored certificate is damaged"):
            certs.cert_of(server, "blog")
        assert certs.remove_cert(server, "blog") is True
        assert certs.remove_cert(server, "blog") is False
        assert certs.cert_of(server, "blog") is None
        by_hand = site.root / "apps/blog/tls"  # a directory, not the symlink certs:add makes
        by_hand.mkdir()
        (by_hand / "cert.pem").write_text("old")
        certs.add_cert(server, "blog", *read(material.leaf), [])
        assert by_hand.is_symlink() and len(list(by_hand.parent.glob(".tls-*"))) == 1
        assert certs.remove_cert(server, "blog")
        assert not by_hand.exists() and list(by_hand.parent.glob(".tls-*")) == []
    finally:
        server.close()


def test_over_ssh_a_key_manages_its_own_apps_certificate_from_stdin(
        site: Server, material: Material) -> None:
    _, public = make_client_key(str(site.root.parent), "alice")
    site.gd("keys:add", "alice", "--apps", "shop", input=public)
    site.gd("certs:remove", "-a", "shop")

    def ssh(command: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        env = {**site.env, "SSH_ORIGINAL_COMMAND": command}
        return run([GITDEPLOY, "--root", str(site.root), "ssh-command", "--key", "alice"],
                   env=env, input=stdin, check=False)

    bundle = material.rsa.bundle()
    added = ssh("certs:add -a shop -", bundle)
    assert added.returncode == 0 and "Added shop's certificate" in added.stdout, added.stderr
    assert "www.shop.example" in ssh("certs -a shop").stdout
    paths = ssh(f"certs:add -a shop {material.rsa.cert} {material.rsa.key}")
    assert paths.returncode == 2 and paths.stderr == (
        "error: over ssh, certs:add reads the certificate and key from stdin: "
        "cat CERT KEY | gitdeploy certs:add -a APP -\n")
    for command in ("certs -a blog", "certs:add -a blog -"):
        denied = ssh(command, bundle)
        assert denied.returncode == 2 and "no access to app 'blog'" in denied.stderr
    assert ssh("certs:remove -a shop").stdout == "Removed shop's certificate and key\n"
    assert_no_key_in(material, added.stdout, added.stderr)
    log = (site.root / "log" / "gitdeploy.jsonl").read_text()
    assert '"user": "alice"' in log
    assert_no_key_in(material, log)

"""The front door: a real nginx routes each app's domains to its web instances, and a release
switches traffic with zero failed requests (real `systemd --user`, real pushes)."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.test_processes import SERVER, Web
from tests.integration.test_processes import manager as manager  # a fixture
from tests.integration.test_processes import web as web  # a fixture
from tests.support.gd import wait_for
from tests.support.nginx import Nginx, start_nginx

DOMAIN = "example.test"


@pytest.fixture
def front(web: Web) -> Iterator[tuple[Web, Nginx]]:
    home = Path(web.manager.home)
    nginx = start_nginx(home / f"nginx-{uuid.uuid4().hex[:8]}", web.root, user="gdweb",
                        avoid=range(web.port, web.port + 100))  # the app's block of ports
    web.gd("settings:set", *nginx.settings(), f"domain={DOMAIN}")
    web.gd("settings:set", "proxy=nginx")
    yield web, nginx
    nginx.stop()


def via(nginx: Nginx, host: str, path: str = "/") -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", nginx.http_port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def push_other(web: Web, app: str, files: dict[str, str]) -> str:
    """A second app of the same server, pushed by the deploy user."""
    work = Path(web.manager.home) / f"work-{app}-{uuid.uuid4().hex[:6]}"
    web.gd("apps:create", app)
    work.mkdir()
    for name, text in files.items():
        (work / name).write_text(text)
    for path in [work, *work.rglob("*")]:
        shutil.chown(path, "gdweb", "gdweb")
    web.run("git", "-C", str(work), "init", "-q", "-b", "main")
    web.run("git", "-C", str(work), "add", "-A")
    web.run("git", "-C", str(work), "commit", "-q", "-m", "init")
    return web.run("git", "-C", str(work), "push", str(web.root / f"repos/{app}.git"),
                   "main").stderr


def test_domains_route_by_host_to_each_app(front: tuple[Web, Nginx]) -> None:
    web, nginx = front
    pushed = web.deploy("shop-one").stderr
    assert f"Switched shop.{DOMAIN} to v1 in" in pushed
    push_other(web, "blog", {"Procfile": "web: python3 server.py\n", "server.py": SERVER,
                             "VERSION": "blog-one"})
    assert via(nginx, f"shop.{DOMAIN}")[1].startswith("shop-one")
    assert via(nginx, f"blog.{DOMAIN}")[1].startswith("blog-one")
    assert via(nginx, f"nosuch.{DOMAIN}")[0] == 404            # nginx's default, not an app
    web.gd("domains:add", "-a", "shop", "www.shop.test", "Shop.Test")
    assert via(nginx, "www.shop.test")[1].startswith("shop-one")
    assert via(nginx, "shop.test")[1].startswith("shop-one")
    listed = json.loads(web.gd("domains", "-a", "shop", "--json").stdout)
    assert listed == [{"hostname": "shop.test", "kind": "custom"},
                      {"hostname": "www.shop.test", "kind": "custom"},
                      {"hostname": f"shop.{DOMAIN}", "kind": "default"}]
    taken = web.gd("domains:add", "-a", "blog", "shop.test", check=False)
    assert taken.returncode == 2 and "shop.test is a domain of shop" in taken.stderr
    bad = web.gd("domains:add", "-a", "shop", "bad_name!", check=False)
    assert bad.returncode == 2 and "invalid domain 'bad_name!'" in bad.stderr
    web.gd("domains:remove", "-a", "shop", "www.shop.test")
    gone = via(nginx, "www.shop.test")
    assert gone[0] == 404, gone
    missing = web.gd("domains:remove", "-a", "shop", "www.shop.test", check=False)
    assert missing.returncode == 2 and "is not a domain of shop" in missing.stderr
    ps = json.loads(web.gd("ps", "-a", "shop", "--json").stdout)
    assert [(p["process"], p["release"], p["port"]) for p in ps] == [
        ("web.1", "v1", web.port + 50)]
    assert json.loads(web.gd("releases:info", "-a", "shop", "v1", "--json").stdout)[
        "switched_at"]


def test_a_config_nginx_refuses_never_reaches_it(front: tuple[Web, Nginx]) -> None:
    web, nginx = front
    web.deploy("shop-one")
    long_name = "a" * 60 + "." + "b" * 60 + ".test"  # a valid name nginx's hash cannot take
    refused = web.gd("domains:add", "-a", "shop", long_name, check=False)
    assert refused.returncode == 1
    assert "nginx refused the new config, so nothing changed: could not build " \
           "server_names_hash" in refused.stderr
    assert long_name not in web.gd("domains", "-a", "shop").stdout   # not kept either
    assert long_name not in (web.root / "nginx/apps/shop.conf").read_text()
    assert via(nginx, f"shop.{DOMAIN}")[1].startswith("shop-one")    # nginx kept serving


# A gunicorn app that takes ~2 s to boot, as a real one does, and names its release.
SLOW_APP = """\
import os, time
time.sleep(2)
RELEASE = os.environ["GITDEPLOY_RELEASE"]
if os.environ.get("CRASH") or os.path.exists("crash"):
    raise RuntimeError("boom: this release cannot start")
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [RELEASE.encode()]
"""
GUNICORN = {"requirements.txt": "gunicorn==23.0.0\n", "app.py": SLOW_APP,
            "Procfile": "web: gunicorn --workers 2 --graceful-timeout 10 app\n",
            "gitdeploy.yml": "healthcheck:\n  settle: 1\n"}


@dataclass
class Load:
    """GET / through the front door at ~50 requests/s, each on a new connection, as many
    clients do; every answer kept with its time."""
    nginx: Nginx
    host: str
    answers: list[tuple[float, int, str]] = field(default_factory=list)
    stopped: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stopped.is_set():
            started = time.monotonic()
            try:
                status, body = via(self.nginx, self.host)
            except OSError as exc:
                status, body = 0, str(exc)
            self.answers.append((started, status, body.strip()))
            time.sleep(max(0.0, 0.02 - (time.monotonic() - started)))

    def __enter__(self) -> Load:
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(15)

    def failed(self) -> list[tuple[float, int, str]]:
        return [answer for answer in self.answers if answer[1] != 200]


def gunicorn_app(web: Web) -> None:
    import os

    if "SSL_CERT_FILE" in os.environ:  # the deploy user's own environment has no proxy's CA
        web.gd("builds:env:set", f"SSL_CERT_FILE={os.environ['SSL_CERT_FILE']}")
    web.commit(GUNICORN)
    assert "Released v1" in web.push().stderr


def test_ten_releases_under_load_fail_no_request(front: tuple[Web, Nginx]) -> None:
    web, nginx = front
    gunicorn_app(web)
    windows = []
    with Load(nginx, f"shop.{DOMAIN}") as load:
        time.sleep(0.5)
        for version in range(2, 12):
            web.commit({"VERSION": str(version)})
            started = time.monotonic()
            pushed = web.push().stderr
            windows.append((version, started, time.monotonic()))
            assert f"Released v{version}" in pushed and "Switched shop." in pushed
        time.sleep(0.5)
    assert load.failed() == []
    assert len(load.answers) > 500
    for version, started, ended in windows:  # the live release, or the one going live
        seen = {body for at, _, body in load.answers if started <= at <= ended}
        assert seen <= {f"v{version - 1}", f"v{version}"}, (version, seen)
    ps = json.loads(web.gd("ps", "-a", "shop", "--json").stdout)
    assert [(p["process"], p["release"]) for p in ps] == [("web.1", "v11")]
    units = sorted(p.name for p in (Path(web.manager.home) / ".config/systemd/user").glob(
        "gitdeploy-shop.web.*"))
    assert units == ["gitdeploy-shop.web.1.v11.service"]      # the old instances are gone


def test_new_instances_that_crash_leave_the_live_ones_serving(
        front: tuple[Web, Nginx]) -> None:
    web, nginx = front
    gunicorn_app(web)
    with Load(nginx, f"shop.{DOMAIN}") as load:
        web.commit({"crash": "yes"})
        pushed = web.push(check=False)
        time.sleep(0.5)
    assert pushed.returncode == 1
    # the app's own error, in the last lines or ahead of them (gunicorn's halt traceback
    # can push it out of the tail)
    assert "RuntimeError: boom: this release cannot start" in pushed.stderr
    assert "Stopped the new web instances: the live ones were not touched" in pushed.stderr
    assert "Release v2 failed: web check failed" in pushed.stderr
    assert load.failed() == [] and {body for _, _, body in load.answers} == {"v1"}
    assert via(nginx, f"shop.{DOMAIN}")[1] == "v1"
    ps = json.loads(web.gd("ps", "-a", "shop", "--json").stdout)
    assert [(p["process"], p["release"]) for p in ps] == [("web.1", "v1")]


def make_cert(directory: Path, name: str, hosts: list[str]) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={hosts[0]}", "-addext",
                    "subjectAltName=" + ",".join(f"DNS:{h}" for h in hosts),
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    for path in (cert, key):
        shutil.chown(path, "gdweb", "gdweb")
    return cert, key


def test_tls_with_the_operators_certificate(front: tuple[Web, Nginx]) -> None:
    web, nginx = front
    web.deploy("shop-one")
    host = f"shop.{DOMAIN}"
    home = Path(web.manager.home)
    cert, key = make_cert(home, f"cert-{uuid.uuid4().hex[:6]}", [host])
    _, other_key = make_cert(home, f"other-{uuid.uuid4().hex[:6]}", [host])
    refused = web.gd("certs:add", "-a", "shop", str(cert), str(other_key), check=False)
    assert refused.returncode == 2 and "does not match" in refused.stderr
    web.gd("certs:add", "-a", "shop", str(cert), str(key))
    assert wait_for(lambda: via(nginx, host)[0] == 301, 10, what="the HTTPS redirect")
    context = ssl.create_default_context(cafile=str(cert))  # verified against the app's name
    with socket.create_connection(("127.0.0.1", nginx.https_port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:  # as curl --resolve does
        assert tls.getpeercert()["subjectAltName"] == (("DNS", host),)
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        answer = b"".join(iter(lambda: tls.recv(65536), b"")).decode()
    assert answer.startswith("HTTP/1.1 200") and "shop-one" in answer
    with pytest.raises(ssl.SSLError), socket.create_connection(
            ("127.0.0.1", nginx.https_port), timeout=10) as raw:
        context.wrap_socket(raw, server_hostname=f"nosuch.{DOMAIN}")  # refused, not an app
    web.gd("certs:remove", "-a", "shop")
    assert wait_for(lambda: via(nginx, host)[0] == 200, 10, what="plain HTTP again")

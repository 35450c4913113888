"""The front door: a real nginx routes each app's domains to its web instances, and a release
switches traffic with zero failed requests (real `systemd --user`, real pushes)."""

from __future__ import annotations

import http.client
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_processes import SERVER, Web
from tests.integration.test_processes import manager as manager  # a fixture
from tests.integration.test_processes import web as web  # a fixture
from tests.support.nginx import Nginx, start_nginx

DOMAIN = "example.test"


@pytest.fixture
def front(web: Web) -> Iterator[tuple[Web, Nginx]]:
    home = Path(web.manager.home)
    nginx = start_nginx(home / f"nginx-{uuid.uuid4().hex[:8]}", web.root, user="gdweb")
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

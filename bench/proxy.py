"""The front door's figures: the latency nginx adds in front of an app (10,000 loopback
requests each way, alternating), and the switch time of a release (its new instances
checked -> nginx serving them), measured on real pushes under a real `systemd --user`."""

from __future__ import annotations

import http.client
import os
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path

from run import ENV, GITDEPLOY, REPO, Figure, Server, spread

sys.path.insert(0, str(REPO))
from tests.support.nginx import Nginx, free_port, start_nginx


def _app(base: Path, port: int) -> Nginx:
    """The app behind the front door: a second nginx answering ``ok`` itself, so the figure
    is the hop the front door adds, not an app's own speed."""
    fake = base / "app-root"
    (fake / "nginx").mkdir(parents=True)
    (fake / "nginx" / "gitdeploy-app.conf").write_text(
        f'server {{ listen 127.0.0.1:{port}; keepalive_requests 100000; '
        f'location / {{ return 200 "ok"; }} }}\n')
    return start_nginx(base / "app-nginx", fake)


def _times(port: int, host: str, count: int) -> list[float]:
    """``count`` GETs on one kept-alive connection, each timed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    found = []
    for _ in range(count):
        started = time.perf_counter()
        connection.request("GET", "/", headers={"Host": host})
        response = connection.getresponse()
        response.read()
        found.append(time.perf_counter() - started)
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status} from port {port}")
    connection.close()
    return found


def _p99(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.99)]


def latency(base: Path, runs: int, total: int = 10_000) -> Figure:
    sys.path.insert(0, str(REPO))
    from gitdeploy.proxy import frontdoor
    from gitdeploy.store import routes
    from gitdeploy.store.routes import WebRoute
    from gitdeploy.store.server import Server as GdServer
    figure = Figure("proxy", "the front door: latency nginx adds in front of an app",
                    "<= 1 ms added at the median")
    server = Server(base / "server")
    server.create("shop")
    nginx = start_nginx(base / "nginx", server.root)
    port = free_port()
    app = _app(base, port)
    try:
        server.gd("settings:set", *nginx.settings())
        server.gd("domains:add", "-a", "shop", "shop.bench.test")
        server.gd("settings:set", "proxy=nginx")
        gd = GdServer(server.root)
        routes.set_web_route(gd.ledger, "shop", WebRoute(1, port, 1))
        with frontdoor.locked(gd):
            serial = frontdoor.refresh(gd)
        problem = frontdoor.wait_for_release(gd, "shop", "v1", serial, None)
        if problem is not None:
            raise RuntimeError(problem)
        _times(port, "x", 200)
        _times(nginx.http_port, "shop.bench.test", 200)  # warm-up
        direct: list[float] = []
        proxied: list[float] = []
        block = 500
        for _ in range(total // block):
            direct += _times(port, "shop.bench.test", block)
            proxied += _times(nginx.http_port, "shop.bench.test", block)
    finally:
        app.stop()
        nginx.stop()
    added = statistics.median(proxied) - statistics.median(direct)
    figure.rows = [
        (f"GET / straight to the app's port ({len(direct):,} requests)",
         spread(direct, "ms", 1000) + f", p99 {_p99(direct) * 1000:.2f} ms"),
        (f"GET / through nginx ({len(proxied):,} requests)",
         spread(proxied, "ms", 1000) + f", p99 {_p99(proxied) * 1000:.2f} ms"),
        ("added by the front door (difference of medians)", f"{added * 1000:.3f} ms"),
        ("added at p99", f"{(_p99(proxied) - _p99(direct)) * 1000:.3f} ms"),
    ]
    figure.notes = ["Both sides keep one connection alive (the front door keeps its own to "
                    "the app); the app is a second nginx that answers itself, so the figure is "
                    "the hop alone; blocks of 500 requests alternate between the two."]
    figure.verdict = "met" if added <= 0.001 else "NOT met"
    return figure


SLOW = """\
import os, time
time.sleep(1)
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [os.environ["GITDEPLOY_RELEASE"].encode()]
"""


def switch(base: Path, runs: int) -> Figure:
    """Releases of a gunicorn app (1 s boot) behind the front door, pushed by a deploy user
    under its own `systemd --user`: the push's own report of each switch."""
    sys.path.insert(0, str(REPO))
    from tests.support.nginx import start_nginx
    from tests.support.systemd_user import start_user_manager

    figure = Figure("switch", "the front door: switch time per release (new web instances "
                    "checked -> nginx serving them)", "reported")
    manager = start_user_manager("gdweb")
    home = Path(manager.home)
    root, work = home / f"bench-{uuid.uuid4().hex[:6]}", home / f"bench-work-{uuid.uuid4().hex[:6]}"
    nginx = start_nginx(home / f"bench-nginx-{uuid.uuid4().hex[:6]}", root, user="gdweb")

    def run(*argv: str) -> str:
        done = manager.run_as(list(argv), env={**{k: v for k, v in ENV.items()
                                                  if k.startswith("GIT_")}}, timeout=300,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{argv} failed: {done.stderr.decode()[-2000:]}")
        return done.stderr.decode()

    switches, pushes = [], []
    try:
        run(GITDEPLOY, "--root", str(root), "apps:create", "shop")
        run(GITDEPLOY, "--root", str(root), "settings:set", *nginx.settings(), "domain=bench.test")
        run(GITDEPLOY, "--root", str(root), "settings:set", "proxy=nginx")
        if "SSL_CERT_FILE" in os.environ:
            run(GITDEPLOY, "--root", str(root), "builds:env:set",
                f"SSL_CERT_FILE={os.environ['SSL_CERT_FILE']}")
        work.mkdir()
        files = {"requirements.txt": "gunicorn==23.0.0\n", "app.py": SLOW,
                 "Procfile": "web: gunicorn --workers 2 app\n",
                 "gitdeploy.yml": "healthcheck:\n  settle: 1\n"}
        for name, text in files.items():
            (work / name).write_text(text)
        for path in [work, *work.rglob("*")]:
            shutil.chown(path, "gdweb", "gdweb")
        run("git", "-C", str(work), "init", "-q", "-b", "main")
        run("git", "-C", str(work), "remote", "add", "deploy", str(root / "repos/shop.git"))
        for version in range(1, runs + 2):
            (work / "VERSION").write_text(str(version))
            shutil.chown(work / "VERSION", "gdweb", "gdweb")
            run("git", "-C", str(work), "add", "-A")
            run("git", "-C", str(work), "commit", "-q", "-m", f"v{version}")
            started = time.perf_counter()
            pushed = run("git", "-C", str(work), "push", "-q", "deploy", "main")
            if version > 1:  # the first has nothing to switch from
                pushes.append(time.perf_counter() - started)
                words = next(line for line in pushed.splitlines() if "Switched " in line)
                switches.append(float(words.split(" in ")[1].split(" ms")[0]) / 1000)
    finally:
        manager.systemctl("stop", "gitdeploy-*", check=False)
        for unit in (home / ".config/systemd/user").glob("gitdeploy-*"):
            unit.unlink()
        manager.systemctl("daemon-reload", check=False)
        nginx.stop()
        manager.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    figure.rows = [
        ("switch: nginx's config checked, installed, reloaded, and confirmed through it",
         spread(switches, "ms", 1000)),
        ("the whole push, gunicorn app booting in ~1 s (build, web check with 1 s settle, "
         "switch, old instances stopped)", spread(pushes)),
    ]
    figure.verdict = "reported"
    return figure

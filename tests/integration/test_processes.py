"""Web processes under a real `systemd --user` manager, driven as a real deploy user."""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitdeploy.processes.ports import _ports_free
from tests.support.gd import GIT_IDENTITY, GITDEPLOY, wait_for
from tests.support.systemd_user import UserManager, start_user_manager

USER = "gdweb"
# ``run=``: this process's own identity (its pid is one of its sandbox's pid namespace)
SERVER = """\
import http.server, os, sys
RUN = os.urandom(6).hex()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        text = " ".join([open("VERSION").read().strip(), os.environ.get("GREETING", "-"),
                         f"run={RUN}", f"dyno={os.environ['DYNO']}"])
        self.send_response(200)
        self.end_headers()
        self.wfile.write(text.encode())
print("listening on", os.environ["PORT"], flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""

# A Django-like app whose settings fail to import: gunicorn's worker dies at boot, after its
# master bound the port (the import takes a moment, as a real app's does).
CRASHING_APP = """\
import time
time.sleep(1)
raise RuntimeError("boom: DATABASE_URL is not set")
"""
# Answers one request, then exits: a web that comes up and falls over at once.
ONE_ANSWER = """\
import http.server, os, threading
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"once")
        threading.Timer(0.2, os._exit, (1,)).start()
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def manager() -> Iterator[UserManager]:
    started = start_user_manager(USER)
    yield started
    started.stop()


@dataclass
class Web:
    manager: UserManager
    root: Path
    work: Path
    port: int

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = self.manager.run_as(list(argv), env={**GIT_IDENTITY}, check=False, timeout=180)
        result = subprocess.CompletedProcess(argv, done.returncode, done.stdout.decode(),
                                             done.stderr.decode())
        if check and result.returncode != 0:
            raise AssertionError(f"{argv} exited {result.returncode}\n{result.stdout}\n"
                                 f"{result.stderr}")
        return result

    def gd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(GITDEPLOY, "--root", str(self.root), *args, check=check)

    def commit(self, files: dict[str, str]) -> None:
        for name, text in files.items():
            (self.work / name).write_text(text)
        shutil.chown(self.work, USER, USER)
        for path in self.work.rglob("*"):
            shutil.chown(path, USER, USER)
        self.run("git", "-C", str(self.work), "add", "-A")
        self.run("git", "-C", str(self.work), "commit", "-q", "-m", "change")

    def push(self, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("git", "-C", str(self.work), "push", "deploy", "main", check=check)

    def deploy(self, version: str, procfile: str = "web: python3 server.py\n",
               **files: str) -> subprocess.CompletedProcess[str]:
        self.commit({"Procfile": procfile, "server.py": SERVER, "VERSION": version, **files})
        return self.push()


def fetch(port: int) -> str | None:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        connection.request("GET", "/")
        return connection.getresponse().read().decode()
    except OSError:
        return None


def run_of(page: str | None) -> str:
    """Which run of the server answered: a new one after every restart."""
    assert page is not None
    return page.split("run=")[1].split()[0]


def main_pid(web: Web, process: str = "web.1") -> int:
    """The unit's main process on the host: its sandbox (bubblewrap)."""
    ps = json.loads(web.gd("ps", "-a", "shop", "--json").stdout)
    return int(next(p["pid"] for p in ps if p["process"] == process))


@pytest.fixture
def web(manager: UserManager) -> Iterator[Web]:
    home = Path(manager.home)
    root = home / f"gd-{uuid.uuid4().hex[:8]}"
    work = home / f"work-{uuid.uuid4().hex[:8]}"
    port = next(base for base in iter(lambda: random.randrange(20000, 40000, 100), None)
                if _ports_free(base))  # else the app would get the next free block
    os.environ["GITDEPLOY_PORT_BASE"] = str(port)  # read by processes run as the user
    site = Web(manager, root, work, port)
    manager.env["GITDEPLOY_PORT_BASE"] = str(port)
    site.gd("apps:create", "shop")
    site.run("git", "init", "-q", "-b", "main", str(work))
    site.run("git", "-C", str(work), "remote", "add", "deploy", str(root / "repos/shop.git"))
    yield site
    manager.systemctl("stop", "gitdeploy-*", check=False)
    for unit in (home / ".config/systemd/user").glob("gitdeploy-*"):
        unit.unlink()
    shutil.rmtree(home / ".config/systemd/user/default.target.wants", ignore_errors=True)
    manager.systemctl("daemon-reload", check=False)
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    os.environ.pop("GITDEPLOY_PORT_BASE", None)


def test_deploy_serves_and_a_new_release_restarts_it(web: Web) -> None:
    result = web.deploy("v-one")
    assert "Restarted web.1" in result.stderr and "Released v1" in result.stderr
    first = fetch(web.port)
    assert first is not None and first.startswith("v-one - ") and "dyno=web.1" in first
    web.deploy("v-two")
    second = fetch(web.port)
    assert second is not None and second.startswith("v-two")
    assert run_of(first) != run_of(second)
    ps = json.loads(web.gd("ps", "-a", "shop", "--json").stdout)
    assert [(p["process"], p["port"]) for p in ps] == [("web.1", web.port)]
    command = Path(f"/proc/{ps[0]['pid']}/cmdline").read_bytes().split(b"\0")
    assert command[0].endswith(b"bwrap") and command[-2:] == [b"python3 server.py", b""]
    assert ps[0]["state"] == "active (running)"
    table = web.gd("ps", "-a", "shop").stdout
    assert "web.1" in table and f"port {web.port}" in table


def test_scale_runs_more_web_processes_without_a_release(web: Web) -> None:
    web.deploy("v-one")
    web.gd("ps:scale", "-a", "shop", "web=2")
    pages = [wait_for(lambda p=p: fetch(p), 20, what=f"port {p}") for p in
             (web.port, web.port + 1)]
    assert "dyno=web.1" in pages[0] and "dyno=web.2" in pages[1]
    assert run_of(pages[0]) != run_of(pages[1])
    assert len(json.loads(web.gd("releases", "-a", "shop", "--json").stdout)) == 1
    web.gd("ps:scale", "-a", "shop", "web=1")
    wait_for(lambda: fetch(web.port + 1) is None, 20, what="web.2 to stop")
    assert run_of(fetch(web.port)) == run_of(pages[0])  # scaling down left web.1 alone
    bad = web.gd("ps:scale", "-a", "shop", "nosuch=1", check=False)
    assert bad.returncode == 2 and "no process type nosuch" in bad.stderr
    assert web.gd("ps:scale", "-a", "shop", "web=x", check=False).returncode == 2


def test_removing_a_type_stops_it(web: Web) -> None:
    web.deploy("v-one", "web: python3 server.py\nclock: exec sleep 1000\n")
    states = {p["process"]: p for p in json.loads(web.gd("ps", "-a", "shop", "--json").stdout)}
    clock_pid = states["clock.1"]["pid"]
    assert states["clock.1"]["state"] == "active (running)" and clock_pid
    web.deploy("v-two")
    assert [p["process"] for p in json.loads(web.gd("ps", "-a", "shop", "--json").stdout)] == [
        "web.1"]
    wait_for(lambda: not Path(f"/proc/{clock_pid}").exists(), 20, what="clock.1 to stop")
    assert not list((Path(web.manager.home) / ".config/systemd/user").glob("*clock*"))


def test_a_web_that_exits_at_start_is_reverted(web: Web) -> None:
    web.deploy("v-one")
    before = fetch(web.port)
    web.commit({"Procfile": "release: echo migrated\nweb: echo 'cannot bind: boom' >&2; exit 1\n",
                "gitdeploy.yml": "healthcheck:\n  timeout: 20\n"})
    result = web.push(check=False)
    assert result.returncode == 1  # the push says the release failed
    text = result.stderr
    assert "web.1 exited instead of serving" in text
    assert "cannot bind: boom" in text                           # its last lines
    assert "Went back to v1" in text
    assert "already run" in text                                 # said plainly
    assert "Release v2 failed: web check failed — v1 is still live" in text
    v2 = json.loads(web.gd("releases:info", "-a", "shop", "v2", "--json").stdout)
    assert (v2["status"], v2["reason"]) == ("failed", "web check failed")
    assert os.readlink(web.root / "apps/shop/current") == "releases/v1"
    page = wait_for(lambda: fetch(web.port), 20, what="v1 to serve again")
    assert page.startswith("v-one") and before is not None


def test_a_web_that_never_listens_fails_the_check(web: Web) -> None:
    web.commit({"Procfile": "web: exec sleep 1000\n", "server.py": SERVER, "VERSION": "x",
                "gitdeploy.yml": "healthcheck:\n  timeout: 2\n"})
    result = web.push(check=False)
    assert result.returncode == 1
    assert (f"did not answer GET / with an HTTP response below 500 on port {web.port} "
            "within 2 s") in result.stderr
    assert "Stopped the app's processes: no earlier release to go back to" in result.stderr
    assert not (web.root / "apps/shop/current").exists()
    assert web.gd("ps", "-a", "shop", "--json").stdout.strip() == "[]"


def vendor_gunicorn(web: Web) -> None:
    """The test venv's gunicorn (and what it imports), in the app's own ``vendor/``: app
    code sees only its release, so what it runs must be in it."""
    import gunicorn
    import packaging

    for package in (gunicorn, packaging):
        source = Path(package.__file__).parent
        shutil.copytree(source, web.work / "vendor" / source.name,
                        ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)


def test_a_gunicorn_whose_app_fails_at_import_fails_the_check(web: Web) -> None:
    web.deploy("v-one")
    vendor_gunicorn(web)
    web.commit({"Procfile": "web: PYTHONPATH=/app/vendor exec python3 -m gunicorn app:app "
                            "--bind 127.0.0.1:$PORT\n",
                "app.py": CRASHING_APP, "gitdeploy.yml": "healthcheck:\n  timeout: 20\n"})
    result = web.push(check=False)
    assert result.returncode == 1, result.stderr
    text = result.stderr
    assert "web.1 exited instead of serving" in text or "did not answer GET /" in text
    assert "boom: DATABASE_URL is not set" in text               # the traceback, shown
    assert "Release v2 failed: web check failed" in text
    assert os.readlink(web.root / "apps/shop/current") == "releases/v1"
    assert wait_for(lambda: fetch(web.port), 20, what="v1 to serve again").startswith("v-one")


def test_a_web_answering_500_fails_the_check(web: Web) -> None:
    server = SERVER.replace("send_response(200)", "send_response(500)")
    web.commit({"Procfile": "web: python3 server.py\n", "server.py": server, "VERSION": "x",
                "gitdeploy.yml": "healthcheck:\n  timeout: 2\n"})
    result = web.push(check=False)
    assert result.returncode == 1, result.stderr
    assert (f"web.1 did not answer GET / with an HTTP response below 500 on port {web.port} "
            "within 2 s (last: HTTP 500)") in result.stderr


def test_a_web_that_answers_then_exits_is_caught_by_the_settle_window(web: Web) -> None:
    web.commit({"Procfile": "web: python3 server.py\n", "server.py": ONE_ANSWER,
                "gitdeploy.yml": "healthcheck:\n  timeout: 10\n"})
    result = web.push(check=False)
    assert result.returncode == 1, result.stderr
    assert "web.1 answered, then did not stay up for 3 s" in result.stderr  # the default
    v1 = json.loads(web.gd("releases:info", "-a", "shop", "v1", "--json").stdout)
    assert (v1["status"], v1["reason"]) == ("failed", "web check failed")


def guarded_server(flag: Path, what: str) -> str:
    """SERVER, but it fails at start while ``flag`` (a file outside the release: in the
    app's data directory) is gone."""
    return (f"import os\nif not os.path.exists('/data/{flag.name}'):\n"
            f"    raise RuntimeError({what!r})\n" + SERVER)


def make_flag(web: Web) -> Path:
    flag = web.root / "apps/shop/data" / f"flag-{uuid.uuid4().hex[:8]}"
    flag.write_text("up")
    shutil.chown(flag, USER, USER)
    return flag


def crash_loop(web: Web, flag: Path) -> None:
    """Take away the live web's flag and kill it: systemd restarts it, and it keeps failing."""
    flag.unlink()
    os.kill(main_pid(web), signal.SIGKILL)

    def restarts() -> int:
        shown = web.manager.systemctl("show", "-p", "NRestarts", "gitdeploy-shop.web.1.service")
        return int(shown.stdout.decode().strip().split("=")[1])

    wait_for(lambda: restarts() >= 2, 30, what="web.1 to crash-loop")


def test_rollback_out_of_a_crash_loop(web: Web) -> None:
    flag = make_flag(web)
    web.deploy("v-one")
    web.deploy("v-two", **{"server.py": guarded_server(flag, "v2 lost its flag")})
    crash_loop(web, flag)
    result = web.gd("rollback", "-a", "shop", "v1", check=False)
    said = result.stdout + result.stderr
    assert result.returncode == 0, said
    assert "lost its flag" not in said
    assert wait_for(lambda: fetch(web.port), 20, what="v1's code").startswith("v-one")
    # a check that fails later shows its own run's lines, not the crash loop's before it
    web.commit({"Procfile": "web: echo 'v4 cannot start' >&2; exit 1\n"})
    result = web.push(check=False)
    assert result.returncode == 1
    assert "v4 cannot start" in result.stderr and "lost its flag" not in result.stderr
    assert "Release v4 failed: web check failed — v3 is still live" in result.stderr


def test_healthcheck_path(web: Web) -> None:
    result = web.deploy("v-one", **{"gitdeploy.yml": "healthcheck:\n  path: /ready\n"})
    assert "Released v1" in result.stderr


def test_a_config_change_reaches_the_running_process(web: Web) -> None:
    web.deploy("v-one")
    assert fetch(web.port).split()[1] == "-"  # type: ignore[union-attr]
    result = web.gd("config:set", "-a", "shop", "GREETING=hello")
    assert "Restarted web.1" in result.stdout
    page = wait_for(lambda: fetch(web.port), 20)
    assert page.split()[1] == "hello"


def test_commands_run_exactly_as_in_a_shell(web: Web) -> None:
    name = f"out-{uuid.uuid4().hex[:6]}"
    out, inside = web.root / "apps/shop/data" / name, f"/data/{name}"  # host, sandbox
    command = (f"printf '%s %%d|%s|%s\\n' \"$GREETING\" 'it''s' \"a\\\"b\" > {inside} && "
               f"echo '$HOME' \"${{GREETING}}x\" 100% `echo tick` $((6*7)) >> {inside}; "
               "exec sleep 1000")
    web.gd("config:set", "-a", "shop", "GREETING=hi there")
    web.deploy("v-one", f"web: python3 server.py\nprinter: {command}\n")
    produced = wait_for(lambda: out.exists() and out.read_text().count("\n") == 2 and
                        out.read_text(), 20, what="the printer's output")
    out.unlink()  # the same command, straight to a shell, as the same user:
    web.manager.run_as(["env", "GREETING=hi there", "sh", "-c",
                        command.replace("; exec sleep 1000", "").replace(inside, str(out))])
    assert produced == out.read_text()
    assert produced == "hi there %d|its|a\"b\n$HOME hi therex 100% tick 42\n"


def test_rendered_units_pass_systemd_analyze_verify(web: Web) -> None:
    web.deploy("v-one", "web: python3 server.py\nworker: echo '%h $HOME \"q\"' && sleep 9\n")
    unit_dir = Path(web.manager.home) / ".config/systemd/user"
    units = sorted(unit_dir.glob("gitdeploy-shop.*"))
    assert [u.name for u in units] == ["gitdeploy-shop.target", "gitdeploy-shop.web.1.service",
                                       "gitdeploy-shop.worker.1.service"]
    for unit in units:
        checked = web.run("systemd-analyze", "--user", "verify", str(unit), check=False)
        assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", ""), unit.name


def test_restart_logs_and_destroy(web: Web) -> None:
    web.deploy("v-one")
    first = run_of(fetch(web.port))
    assert "Restarted web.1" in web.gd("ps:restart", "-a", "shop", "web").stdout
    second = run_of(wait_for(lambda: fetch(web.port), 20))
    assert first != second
    logs = wait_for(lambda: "GET / HTTP" in (text := web.gd("logs", "-a", "shop").stdout) and
                    text, 10, what="request lines in the logs")
    assert f"[web.1] listening on {web.port}" in logs
    tail = subprocess.Popen(["runuser", "-u", USER, "--", GITDEPLOY, "--root", str(web.root),
                             "logs", "-a", "shop", "-n", "1", "--tail"],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(1)
    fetch(web.port)
    assert tail.stdout is not None
    seen = [tail.stdout.readline() for _ in range(2)]
    os.killpg(tail.pid, signal.SIGKILL)  # runuser's child too
    tail.wait()
    assert any("GET / HTTP" in line for line in seen)
    web.gd("apps:destroy", "shop", "--confirm", "shop")
    wait_for(lambda: fetch(web.port) is None, 20, what="the app to stop")
    assert not list((Path(web.manager.home) / ".config/systemd/user").glob("gitdeploy-shop*"))


def test_a_release_outlives_the_session_that_pushed_it(web: Web) -> None:
    """logind's ``KillUserProcesses=yes`` kills what an ssh session leaves behind at logout.
    Here the session is a unit of the user's manager: stopping it kills all it holds, as
    the end of a session scope does; a worker forked inside it would die with it."""
    web.commit({"Procfile": "release: echo begin; sleep 4; echo migrated\n"
                            "web: python3 server.py\n",
                "server.py": SERVER, "VERSION": "outlived"})
    session = f"gd-session-{uuid.uuid4().hex[:8]}"
    output = Path(web.manager.home) / f"{session}.out"
    web.run("systemd-run", "--user", "--collect", "--quiet", f"--unit={session}",
            f"--property=StandardOutput=append:{output}",
            f"--property=StandardError=append:{output}",
            *(f"--setenv={name}" for name in ("HOME", "PATH", "GITDEPLOY_PORT_BASE")),
            "git", "-C", str(web.work), "push", "deploy", "main")
    wait_for(lambda: output.exists() and "begin" in output.read_text(), timeout=60,
             what=f"the release phase to start: {output.read_text() if output.exists() else ''}")
    worker = "gitdeploy-release-shop-v1.service"
    assert web.manager.systemctl("is-active", worker, check=False).returncode == 0
    web.manager.systemctl("stop", f"{session}.service")  # the session ends, its pusher too
    assert web.manager.systemctl("is-active", f"{session}.service",
                                 check=False).returncode != 0

    def verdict() -> str | None:
        releases = json.loads(web.gd("releases", "-a", "shop", "--json").stdout)
        status = releases[0]["status"] if releases else None
        return status if status in ("succeeded", "failed") else None

    assert wait_for(verdict, timeout=60, what="the release's verdict") == "succeeded"
    page = fetch(web.port)
    assert page is not None and page.startswith("outlived")
    wait_for(lambda: web.manager.systemctl("is-active", worker, check=False).returncode != 0,
             what="the worker's unit to be collected")


def test_going_back_to_a_release_whose_web_is_dead_says_so(web: Web) -> None:
    flag = make_flag(web)
    web.deploy("v-one", **{"server.py": guarded_server(flag, "v1 lost its flag"),
                           "gitdeploy.yml": "healthcheck:\n  timeout: 10\n"})
    crash_loop(web, flag)
    web.commit({"Procfile": "web: echo 'v2 cannot start' >&2; exit 1\n"})
    result = web.push(check=False)
    assert result.returncode == 1
    text = result.stderr
    assert "Went back to v1" in text
    assert "v1 is live but its web check failed too: web.1 exited instead of serving" in text
    assert "v1 lost its flag" in text              # v1's own last lines
    assert "still live" not in text
    v2 = json.loads(web.gd("releases:info", "-a", "shop", "v2", "--json").stdout)
    assert (v2["status"], v2["reason"]) == ("failed", "web check failed")
    assert os.readlink(web.root / "apps/shop/current") == "releases/v1"


BOXED = """\
import http.server, os, signal, sys
def stop(signum, frame):
    open(os.path.join(os.environ["GITDEPLOY_DATA"], "stopped"), "w").write("SIGTERM")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
        text = " ".join([os.getcwd(), os.environ["HOME"], str(os.path.exists(os.environ["PROBE"])),
                         str(len(pids))])
        self.send_response(200)
        self.end_headers()
        self.wfile.write(text.encode())
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def test_a_web_process_runs_in_its_sandbox_and_a_graceful_stop_reaches_it(web: Web) -> None:
    """As the deploy user (not root), under a real systemd --user manager."""
    web.gd("config:set", "-a", "shop", f"PROBE={web.root}")
    web.commit({"Procfile": "web: python3 server.py\n", "server.py": BOXED})
    web.push()
    page = fetch(web.port)
    assert page is not None
    cwd, home, sees_root, processes = page.split()
    assert (cwd, home, sees_root) == ("/app", "/app", "False")
    assert int(processes) < 10  # its own sandbox's, not the host's
    web.manager.systemctl("stop", "gitdeploy-shop.web.1.service")
    stopped = web.root / "apps/shop/data/stopped"
    assert stopped.read_text() == "SIGTERM"


LIFE = ("echo start {kind} $GITDEPLOY_RELEASE >> /data/life; "
        "trap 'echo stop {kind} $GITDEPLOY_RELEASE >> /data/life; exit 0' TERM; "
        "while true; do sleep 0.1; done")


def test_overlap_starts_new_workers_before_the_old_ones_stop(web: Web) -> None:
    procfile = (f"web: python3 server.py\nworker: {LIFE.format(kind='worker')}\n"
                f"clock: {LIFE.format(kind='clock')}\n")
    settings = {"gitdeploy.yml": "processes:\n  overlap: [worker]\n"}
    web.deploy("v-one", procfile, **settings)
    web.deploy("v-two", procfile, **settings)
    life = web.root / "apps/shop/data/life"

    def six_lines() -> list[str] | None:
        found = life.read_text().splitlines()
        return found if len(found) >= 6 else None

    lines = wait_for(six_lines, 20, what="both types' starts and stops")
    worker = [line for line in lines if " worker " in line]
    clock = [line for line in lines if " clock " in line]
    assert worker == ["start worker v1", "start worker v2", "stop worker v1"]  # overlapped
    assert clock == ["start clock v1", "stop clock v1", "start clock v2"]  # stop, then start
    ps = {p["process"]: p["release"] for p in json.loads(web.gd("ps", "-a", "shop",
                                                                "--json").stdout)}
    assert ps == {"web.1": "v2", "worker.1": "v2", "clock.1": "v2"}
    names = sorted(p.name for p in (Path(web.manager.home) / ".config/systemd/user").glob(
        "gitdeploy-shop.worker*"))
    assert names == ["gitdeploy-shop.worker.1.v2.service"]

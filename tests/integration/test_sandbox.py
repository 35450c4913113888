"""App code in its sandbox: what a release command of app ``blog`` must not reach (another
app, the server, the live release, other processes) and what a legitimate app still does.

Each hostile case is a real push whose release command tries it; it reports what it saw
through its data directory, the only host directory it has besides its release.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.gd import AppRepo, Server, wait_for
from tests.support.pg import PgServer, start_pg_server
from tests.support.procscan import unique_sleep

MakeApp = Callable[..., AppRepo]
SECRET = "shop-secret-7f3a9c"


@pytest.fixture
def shop(make_app: MakeApp, server: Server) -> AppRepo:
    """Another tenant, live, with a secret."""
    repo = make_app("shop", {"Procfile": "release: echo shop migrated\n", "data.txt": "shop\n"})
    server.gd("config:set", "-a", "shop", f"SECRET_TOKEN={SECRET}")
    repo.push()
    server.wait_idle("shop")
    return repo


def attempt(make_app: MakeApp, server: Server, command: str,
            files: dict[str, str] | None = None) -> tuple[str, str]:
    """Push ``blog`` with ``command`` as its release command: (its log, what it wrote to
    $GITDEPLOY_DATA/seen)."""
    repo = make_app("blog", {"Procfile": f"release: {command}\n", **(files or {})})
    repo.push(check=False)
    server.wait_idle("blog")
    seen = server.root / "apps/blog/data/seen"
    return server.log("blog", 1), seen.read_text() if seen.exists() else ""


def paths_of_shop(server: Server) -> list[Path]:
    shop = server.root / "apps/shop"
    return [shop / "current.env", shop / "current/data.txt", shop / "releases",
            next((shop / "logs").glob("v*.log")), server.root / "state/ledger.sqlite3",
            server.root / "repos/shop.git/config"]


def test_another_apps_files_and_the_server_root_are_out_of_reach(
        shop: AppRepo, make_app: MakeApp, server: Server) -> None:
    slugs = list((server.root / "apps/shop/slugs").glob("*"))
    wait_for(lambda: slugs or list((server.root / "apps/shop/slugs").glob("*")),
             what="shop's slug")
    targets = [*paths_of_shop(server), *(server.root / "apps/shop/slugs").glob("*"),
               server.root]
    probes = "; ".join(f"cat {t} >> $GITDEPLOY_DATA/seen 2>/dev/null; "
                       f"ls {t} >> $GITDEPLOY_DATA/seen 2>/dev/null" for t in targets)
    log, seen = attempt(make_app, server, f"{probes}; env >> $GITDEPLOY_DATA/seen; true")
    assert "Released v1" in log
    assert SECRET not in seen and SECRET not in log
    assert "SQLite" not in seen and "shop migrated" not in seen and "[core]" not in seen
    assert "data.txt" not in seen and "shop" not in seen.replace("GITDEPLOY", "")


def test_keys_and_the_deploy_users_home_are_out_of_reach(make_app: MakeApp,
                                                          server: Server) -> None:
    """``release: echo KEY >> ~/.ssh/authorized_keys`` once gave a key a shell."""
    home = Path(os.path.expanduser("~"))
    keys = home / ".ssh/authorized_keys"
    made = not keys.exists()
    if made:
        keys.parent.mkdir(mode=0o700, exist_ok=True)
        keys.write_text("")
    before = keys.read_bytes()
    try:
        _, seen = attempt(make_app, server,
                          f'echo "ssh-ed25519 AAAA intruder" >> {keys} || echo refused >> '
                          f'$GITDEPLOY_DATA/seen; ls {home} >> $GITDEPLOY_DATA/seen 2>&1; true')
        assert keys.read_bytes() == before
        assert "refused" in seen and "No such file or directory" in seen
    finally:
        if made:
            keys.unlink()
        elif keys.read_bytes() != before:
            keys.write_bytes(before)


def test_a_failed_release_cannot_change_the_live_release_files(
        shop: AppRepo, make_app: MakeApp, server: Server) -> None:
    """Unchanged files of a new release are hard links to the live one's: a write through
    one would change the live release behind its back."""
    blog = make_app("blog", {"Procfile": "release: true\n", "data.txt": "original\n"})
    blog.push()
    server.wait_idle("blog")
    live_shop = server.root / "apps/shop/current/data.txt"
    blog.commit({"Procfile": f"release: echo changed > data.txt; echo changed > "
                             f"/app/data.txt; echo changed > {live_shop}; exit 1\n"})
    result = blog.push(check=False)
    assert "Read-only file system" in result.stderr
    assert (server.root / "apps/blog/current/data.txt").read_text() == "original\n"
    assert server.current("blog") == "releases/v1"
    assert live_shop.read_text() == "shop\n"


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """A process of another app (or gitdeploy's own), running as the same OS user."""
    process = subprocess.Popen(["sleep", "4711"])
    yield process
    process.kill()
    process.wait()


def test_other_processes_cannot_be_seen_signalled_or_traced(
        make_app: MakeApp, server: Server, stranger: subprocess.Popen[bytes]) -> None:
    pid = stranger.pid
    trace = ("import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True); "
             f"r = libc.ptrace(16, {pid}, 0, 0); print('ptrace', r, ctypes.get_errno())")
    _, seen = attempt(make_app, server, (
        f"kill -TERM {pid} 2>> $GITDEPLOY_DATA/seen && echo KILLED-IT >> $GITDEPLOY_DATA/seen; "
        f"python3 -c \"{trace}\" >> $GITDEPLOY_DATA/seen; "
        "ps -eo pid,args >> $GITDEPLOY_DATA/seen; ls /proc | grep -c '^[0-9]' "
        ">> $GITDEPLOY_DATA/seen; true"))
    assert stranger.poll() is None  # still running: the signal never reached it
    assert "KILLED-IT" not in seen.splitlines()
    assert f"ptrace -1 {3}" in seen  # ESRCH: no such process in its world
    assert "sleep 4711" not in seen and "gitdeploy" not in seen.replace("GITDEPLOY", "")
    assert int(seen.strip().splitlines()[-1]) < 10  # only the sandbox's own processes


def test_nothing_the_release_command_started_outlives_it(make_app: MakeApp,
                                                         server: Server) -> None:
    # command lines of this run alone: a fixed one may be another run's, left on the machine
    daemon, orphan = unique_sleep(4712), unique_sleep(4713)
    log, _ = attempt(make_app, server, f"setsid sh -c 'exec {daemon}' </dev/null >/dev/null "
                                       f"2>&1 & nohup {orphan} >/dev/null 2>&1 & echo started")
    assert "Released v1" in log
    time.sleep(0.2)
    assert _running(daemon) == [] and _running(orphan) == []


def _running(command_line: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                text = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if text.decode(errors="replace").strip() == command_line:
                found.append(int(name))
    return found


def test_a_killed_worker_leaves_no_process_of_its_release_behind(make_app: MakeApp,
                                                                 server: Server) -> None:
    daemon, command = unique_sleep(4714), unique_sleep(4715)
    repo = make_app("blog", {"Procfile": f"release: setsid {daemon} & exec {command}\n"})
    push = subprocess.Popen(["git", "push", "deploy", "main"], cwd=repo.work,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: _running(daemon) and _running(command), 30, what="the release command")
    holder = (server.root / "apps/blog/locks/app.lock").read_text()
    os.kill(int(holder.rpartition("pid ")[2]), signal.SIGKILL)
    push.wait(timeout=60)
    wait_for(lambda: not _running(daemon) and not _running(command), 10,
             what="the sandbox to end with its worker")


# --- what a legitimate app still does ---------------------------------------------------


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    server = start_pg_server()
    yield server
    server.stop()


def test_a_legitimate_app_does_what_apps_do(make_app: MakeApp, server: Server,
                                            pg: PgServer) -> None:
    pg.create_database("blogdb")
    repo = make_app("blog", {
        "gitdeploy.yml": "build: python3 -m venv --without-pip .venv\n",
        "Procfile": (
            "release: echo \"greeting $GREETING\"; "
            "psql -X -A -t -c 'select 41 + 1' \"$SOCKET_URL\"; "
            "psql -X -A -t -c 'select 40 + 3' \"$TCP_URL\"; "
            "echo tmp > /tmp/x && cat /tmp/x; "
            "echo kept >> \"$GITDEPLOY_DATA/kept\" && cat \"$GITDEPLOY_DATA/kept\"; "
            ".venv/bin/python -c 'import sys; print(\"venv\", sys.prefix)'; "
            "python3 -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); "
            "s.listen(); print(\"bound\")'; echo \"home $HOME data $GITDEPLOY_DATA\"\n"),
    })
    server.gd("config:set", "-a", "blog", f"SOCKET_URL={pg.url('blogdb')}",
              f"TCP_URL={pg.tcp_url('blogdb')}", "GREETING=hello")
    result = repo.push()
    text = result.stderr
    for expected in ("greeting hello", "42", "43", "tmp", "kept", "venv /app/.venv", "bound",
                     "home /app data /data"):
        assert expected in text, text
    assert (server.root / "apps/blog/data/kept").read_text() == "kept\n"


def test_a_one_off_command_runs_in_the_live_release_sandbox(shop: AppRepo, make_app: MakeApp,
                                                           server: Server) -> None:
    blog = make_app("blog", {"Procfile": "release: true\n", "data.txt": "blog's\n"})
    server.gd("config:set", "-a", "blog", "GREETING=hi there")
    blog.push()
    done = server.gd("run", "-a", "blog", "--", "cat", "data.txt")
    assert done.stdout == "blog's\n"
    done = server.gd("run", "-a", "blog", 'echo "$GREETING $DYNO $PWD"; exit 3', check=False)
    assert (done.returncode, done.stdout) == (3, "hi there run.1 /app\n")
    done = server.gd("run", "-a", "blog", "--", "cat",
                     str(server.root / "apps/shop/current.env"), check=False)
    assert done.returncode == 1 and SECRET not in done.stdout + done.stderr
    done = server.gd("run", "-a", "blog", "--", "sh", "-c", "echo edit >> data.txt",
                     check=False)
    assert "Read-only file system" in done.stderr
    assert (server.root / "apps/blog/current/data.txt").read_text() == "blog's\n"
    refused = server.gd("run", "-a", "blog", check=False)
    assert refused.returncode == 2 and "run needs a command" in refused.stderr


def test_without_a_sandbox_a_release_fails_before_any_app_code_runs(
        make_app: MakeApp, server: Server, tmp_path: Path) -> None:
    """Fail closed. Turning user namespaces off would take a sysctl that every other test on
    the machine would feel, so a ``bwrap`` first on PATH answers as bubblewrap does there."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "bwrap").write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to creating new namespace, likely because the "
        "kernel does not allow non-privileged user namespaces.' >&2\nexit 1\n")
    (fake / "bwrap").chmod(0o755)
    repo = make_app("blog", {"Procfile": "release: touch $GITDEPLOY_DATA/ran\n",
                             "gitdeploy.yml": "build: touch $GITDEPLOY_DATA/built\n"})
    result = repo.push(check=False, env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"})
    assert result.returncode == 1
    assert "release v1 failed: sandbox unavailable" in result.stderr
    assert "cannot create a user namespace" in result.stderr
    assert "GITDEPLOY_SANDBOX=off" in result.stderr
    data = server.root / "apps/blog/data"
    assert not (data / "ran").exists() and not (data / "built").exists()
    assert server.current("blog") is None


def test_the_shared_trust_mode_is_explicit_and_every_push_says_so(make_app: MakeApp,
                                                                 server: Server) -> None:
    repo = make_app("blog", {"Procfile": "release: echo \"ran in $PWD\"\n"})
    result = repo.push(env={**os.environ, "GITDEPLOY_SANDBOX": "off"})
    assert result.stderr.count("app code runs unsandboxed (GITDEPLOY_SANDBOX=off") == 1
    assert f"ran in {server.root}/apps/blog/releases/v1" in result.stderr


def test_the_apps_config_cannot_act_on_the_host_side_of_its_sandbox(
        make_app: MakeApp, server: Server, tmp_path: Path) -> None:
    """Config vars once reached bubblewrap's own process on the host: a PATH naming the app's
    own ``bwrap`` ran app code outside the sandbox, and so would an LD_PRELOAD (LD_DEBUG
    shows whether the host's bubblewrap ever sees the app's loader variables)."""
    escaped = tmp_path / "escaped"
    repo = make_app("blog", {
        "Procfile": 'release: echo "in $PWD"\n',
        "bwrap": f"#!/bin/sh\ntouch {escaped}\n"
                 'while [ "$1" != -- ]; do shift; done; shift; exec "$@"\n'})
    (repo.work / "bwrap").chmod(0o755)
    repo.commit()
    repo.push()
    changed = server.gd("config:set", "-a", "blog",
                        f"PATH={server.root}/apps/blog/current:/usr/bin:/bin", "LD_DEBUG=files")
    ran = server.gd("run", "-a", "blog", "--", "pwd")
    for said in (changed.stdout + changed.stderr, ran.stdout + ran.stderr):
        assert "needed by /usr/bin/bwrap" not in said and "bwrap [0]" not in said
    assert "in /app" in changed.stdout and ran.stdout.endswith("/app\n")
    assert not escaped.exists()


def test_a_root_gitdeploy_hides_what_only_root_may_read(make_app: MakeApp,
                                                        server: Server) -> None:
    """uid 0 keeps owner access to root's 0600 files even with every capability dropped."""
    assert os.geteuid() == 0, "this suite runs gitdeploy as root here"
    _, seen = attempt(make_app, server, "cat /etc/shadow /etc/gshadow /etc/ssh/ssh_host_*_key "
                                        ">> $GITDEPLOY_DATA/seen 2>/dev/null; "
                                        "unshare -U true 2>/dev/null "
                                        "|| echo no-userns >> $GITDEPLOY_DATA/seen; true")
    assert "root:" not in seen and "PRIVATE KEY" not in seen
    assert "no-userns" in seen  # and it makes no user namespaces of its own

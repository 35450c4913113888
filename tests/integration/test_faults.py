"""kill -9 anywhere: the worker (and the hook) killed at every step of a deploy.

Each scenario deploys v1, then pushes v2 with a fail-point armed (GITDEPLOY_FAULT, see
gitdeploy/faults.py) or kills the worker from outside while a command runs. Afterwards the
invariants of SPEC section 2 must hold, and the next deploy must work.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import unavailable
from tests.support.gd import AppRepo, Server, run, wait_for
from tests.support.procscan import pids_holding, unique_sleep

MakeApp = Callable[..., AppRepo]
RUNS = 5
MARKER_SLEEP = unique_sleep(77)  # this run's alone: none of another run left behind

# point -> (what v2 is, how v2 ends: "interrupted" or "succeeded")
SCENARIOS = {
    "locked": ("incremental", "interrupted"),
    "extracting": ("build", "interrupted"),
    "linking": ("incremental", "interrupted"),
    "building": ("slow build", "interrupted"),            # killed from outside
    "packing-slug": ("build", "succeeded"),              # slug of a build: after its verdict
    "releasing": ("slow release", "interrupted"),        # killed from outside
    "swapping-current.env": ("incremental", "interrupted"),
    "between-swaps": ("incremental", "interrupted"),
    "swapping-current": ("incremental", "interrupted"),  # symlink made, not yet renamed
    "went-live": ("incremental", "interrupted"),         # renamed, before its web check:
                                                         # current handed back to v1
    "checked": ("incremental", "succeeded"),             # web check passed, recorded
    "verdict-written": ("incremental", "succeeded"),
    "recorded": ("incremental", "succeeded"),
    "packing-slug-after-verdict": ("incremental", "succeeded"),
    "hook-recorded": ("incremental", "interrupted"),     # the hook dies before the worker
}


def files_of(server: Server, commit: str) -> set[str]:
    out = run(["git", "--git-dir", str(server.root / "repos/app.git"), "ls-tree", "-r",
               "--name-only", commit]).stdout
    return set(out.splitlines())


def check_invariants(server: Server) -> None:
    releases = server.releases("app")  # the first look at the app repairs it
    app = server.root / "apps/app"
    assert all(r["status"] in ("succeeded", "failed") for r in releases), releases
    live = [r for r in releases if r["current"]]
    target = os.readlink(app / "current") if os.path.lexists(app / "current") else None
    if target is None:
        assert live == []
    else:
        (release,) = live
        assert target == f"releases/{release['name']}"
        assert release["status"] == "succeeded"
        on_disk = {str(p.relative_to(app / "current")) for p in (app / "current").rglob("*")
                   if not p.is_dir()}
        assert on_disk == files_of(server, release["commit"])  # complete, nothing half-made
        assert os.readlink(app / "current.env") == f"{target}.env"
    server.wait_idle("app")
    leftovers = [p for p in app.rglob("*") if ".tmp-" in p.name or p.name.endswith(
        (".build", ".extract"))] + list((app / "tmp").iterdir())
    assert leftovers == [], leftovers
    assert pids_holding(MARKER_SLEEP) == {}


def v2_files(kind: str) -> dict[str, str]:
    """v2's files; a slow command touches ``started`` in the app's data directory (all of the
    host its sandbox sees), then sleeps."""
    files = {"f2.txt": "second\n"}
    if kind in ("build", "slow build"):
        build = f"touch /data/started; {MARKER_SLEEP}" if kind == "slow build" else "true"
        files["gitdeploy.yml"] = f"build: '{build}'\n"
    if kind == "slow release":
        files["Procfile"] = f"release: touch /data/started; {MARKER_SLEEP}\n"
    return files


def worker_pid(server: Server) -> int:
    holder = (server.root / "apps/app/locks/app.lock").read_text()
    match = re.search(r"pid (\d+)", holder)
    assert match
    return int(match.group(1))


@pytest.mark.slow
@pytest.mark.parametrize("run_number", range(RUNS))
@pytest.mark.parametrize("point", list(SCENARIOS))
def test_kill_9_anywhere(make_app: MakeApp, server: Server, point: str,
                         run_number: int) -> None:
    kind, outcome = SCENARIOS[point]
    repo = make_app("app", {"Procfile": "release: echo ok\n", "f1.txt": "first\n"})
    repo.push()
    server.wait_idle("app")
    marker = repo.data / "started"
    repo.commit(v2_files(kind))
    env = dict(os.environ)
    if kind in ("slow build", "slow release"):
        pushing = subprocess.Popen(["git", "push", "deploy", "main"], cwd=repo.work, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(marker.exists, 30, what="the command to start")
        os.kill(worker_pid(server), signal.SIGKILL)
        pushing.wait(timeout=60)
    else:
        env["GITDEPLOY_FAULT"] = "packing-slug" if point.startswith("packing-slug") else point
        repo.push(env=env, check=False, timeout=60)
    v2 = server.release("app", 2)
    if outcome == "interrupted":
        assert (v2["status"], v2["reason"]) == ("failed", "interrupted"), v2
        assert server.current("app") == "releases/v1"
    else:
        assert v2["status"] == "succeeded", v2
        assert server.current("app") == "releases/v2"
    check_invariants(server)
    repo.commit({"f3.txt": "third\n", "Procfile": "release: echo ok\n",
                 "gitdeploy.yml": "keep_releases: 5\n"})  # no slow build any more
    assert "Released v3" in repo.push().stderr
    check_invariants(server)
    assert server.release("app", 3)["current"] is True


@pytest.mark.slow
@pytest.mark.parametrize("run_number", range(RUNS))
def test_a_killed_hook_does_not_stop_the_release(make_app: MakeApp, server: Server,
                                                 run_number: int) -> None:
    repo = make_app("app", {"Procfile": "release: sleep 1; echo done\n"})
    pushing = repo.push_popen()
    wait_for(lambda: server.releases("app") and server.releases("app")[0]["status"]
             == "releasing", 30)
    hook = run(["pgrep", "-f", f"{server.root} hook proc-receive"]).stdout.split()
    hook_pids = [int(pid) for pid in hook if int(pid) != worker_pid(server)]
    for pid in hook_pids:
        os.kill(pid, signal.SIGKILL)
    pushing.wait(timeout=30)
    assert server.wait_final("app", 1)["status"] == "succeeded"
    assert "done" in server.log("app", 1)
    head = run(["git", "rev-parse", "HEAD"], cwd=repo.work).stdout.strip()
    deployed = run(["git", "--git-dir", str(server.root / "repos/app.git"), "rev-parse",
                    "refs/heads/main"]).stdout.strip()
    assert deployed == head  # the worker moved the deploy branch: the hook was gone
    check_invariants(server)


def test_fail_points_are_armed_only_by_the_variable() -> None:
    probe = "import json, gitdeploy.faults as f; print(json.dumps(sorted(f.ARMED)))"
    for value, armed in (("a,b", ["a", "b"]), ("", [])):
        done = subprocess.run(["python3", "-c", probe], capture_output=True, text=True,
                              env={**os.environ, "GITDEPLOY_FAULT": value}, check=True,
                              cwd=Path(__file__).resolve().parents[2])
        assert json.loads(done.stdout) == armed


def test_the_release_is_flushed_before_current_is_swapped(make_app: MakeApp, server: Server,
                                                          tmp_path: Path) -> None:
    """A power loss right after the swap must find `current` pointing at written files: the
    release's filesystem is flushed (syncfs) before `current` is renamed."""
    if shutil.which("strace") is None:
        unavailable("strace is not installed")
    repo = make_app("app", {"Procfile": "release: true\n", "f1.txt": "first\n"})
    trace = tmp_path / "trace"
    run(["strace", "-f", "-qq", "-o", str(trace), "-e",
         "trace=syncfs,sync,rename,renameat,renameat2", "git", "push", "deploy", "main"],
        cwd=repo.work, timeout=60)
    lines = trace.read_text().splitlines()
    swap = [i for i, line in enumerate(lines) if "rename" in line
            and re.search(r'\.current\.tmp-\d+", .*"[^"]*/current"', line)]
    assert swap, "\n".join(lines)
    flushed = [i for i, line in enumerate(lines[:swap[0]])
               if re.match(r"\d+\s+(syncfs\(\d+|sync\(\))", line) and line.endswith("= 0")]
    assert flushed, "\n".join(lines[:swap[0] + 1])
    assert server.release("app", 1)["status"] == "succeeded"

"""Many deploys at once, readers during deploys, and a disk that fills up mid-release."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import unavailable
from tests.support.gd import GITDEPLOY, AppRepo, Server, run, wait_for

MakeApp = Callable[..., AppRepo]
STAMPED = ('release: echo "$GITDEPLOY_APP $GITDEPLOY_RELEASE start $(date +%s.%N)" '
           '>> /data/stamps; sleep 0.2; '
           'echo "$GITDEPLOY_APP $GITDEPLOY_RELEASE end $(date +%s.%N)" >> /data/stamps\n')
# Each release phase announces itself in its data directory (the only place of the host its
# sandbox sees), then waits (up to 60 s) for the test to say go, which it does once all five
# have arrived: if one app waited for another, the first would time out and fail, and the
# others would never arrive. Timing-free proof of independence.
BARRIER = ('release: touch $GITDEPLOY_DATA/arrived; n=0; '
           'until [ -e $GITDEPLOY_DATA/go ]; do n=$((n+1)); '
           '[ $n -gt 600 ] && echo "alone" && exit 1; sleep 0.1; done; '
           'echo "$GITDEPLOY_APP $GITDEPLOY_RELEASE met the others"\n')


def intervals(log: Path) -> dict[tuple[str, str], tuple[float, float]]:
    stamps: dict[tuple[str, str], dict[str, float]] = {}
    for line in log.read_text().splitlines():
        app, version, edge, at = line.split()
        stamps.setdefault((app, version), {})[edge] = float(at)
    return {key: (edges["start"], edges["end"]) for key, edges in stamps.items()}


def check_snapshot(text: str) -> None:
    """What a reader sees mid-deploy: valid JSON, a coherent ledger, never a torn state."""
    releases = json.loads(text)
    live = [r for r in releases if r["current"]]
    assert len(live) <= 1
    # from the swap until its verdict is recorded, a release going live is current and still
    # `releasing` (README, Releases); never one that failed or has not passed its release phase
    assert all(r["status"] in ("releasing", "succeeded") for r in live)
    assert all(r["status"] in ("pending", "building", "releasing", "succeeded", "failed")
               for r in releases)
    versions = [r["version"] for r in releases]
    assert versions == sorted(set(versions), reverse=True)


@pytest.mark.slow
def test_ten_deploys_of_one_app_at_once(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": STAMPED})
    log = repo.data / "stamps"
    shas = [repo.commit({"n": str(i)}) for i in range(10)]
    repo.push()  # v1: the head
    stop = threading.Event()
    snapshots: list[str] = []

    def read_while_deploying() -> None:
        while not stop.is_set():
            done = subprocess.run([GITDEPLOY, "--root", str(server.root), "releases", "-a",
                                   "app", "--json"], capture_output=True, text=True,
                                  check=False)
            assert done.returncode == 0, done.stderr
            snapshots.append(done.stdout)

    reader = threading.Thread(target=read_while_deploying)
    reader.start()
    procs = [subprocess.Popen([GITDEPLOY, "--root", str(server.root), "deploy", "-a", "app",
                               sha], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for sha in shas]
    setters = [subprocess.Popen([GITDEPLOY, "--root", str(server.root), "config:set", "-a",
                                 "app", f"K{i}=v{i}"], stdout=subprocess.DEVNULL)
               for i in range(3)]
    assert [p.wait(timeout=180) for p in procs + setters] == [0] * 13
    stop.set()
    reader.join()
    releases = server.releases("app")
    assert [r["version"] for r in releases] == list(range(14, 0, -1))  # distinct, none reused
    assert all(r["status"] == "succeeded" for r in releases)
    spans = sorted(intervals(log).values())
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))
    order = sorted(intervals(log), key=lambda key: intervals(log)[key][0])
    assert [int(version[1:]) for _, version in order] == list(range(1, 15))  # in version order
    assert len(snapshots) > 5
    for text in snapshots:
        check_snapshot(text)
    config = json.loads(server.gd("config", "-a", "app", "--json").stdout)
    assert config == {"K0": "v0", "K1": "v1", "K2": "v2"}


@pytest.mark.slow
def test_five_apps_deploy_independently(make_app: MakeApp, server: Server) -> None:
    repos = [make_app(f"app{i}", {"Procfile": BARRIER}) for i in range(5)]
    pushes = [repo.push_popen() for repo in repos]
    try:
        wait_for(lambda: all((repo.data / "arrived").exists() for repo in repos), 60,
                 what="all five release phases running at once")
    finally:
        for repo in repos:
            (repo.data / "go").touch()
    assert [p.wait(timeout=120) for p in pushes] == [0] * 5
    for i in range(5):
        release = server.release(f"app{i}", 1)
        assert release["status"] == "succeeded" and release["current"]
        assert f"app{i} v1 met the others" in server.log(f"app{i}", 1)
        assert f"app{i} v1" not in "".join(server.log(f"app{j}", 1) for j in range(5) if j != i)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        unavailable(f"cannot mount a small tmpfs: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.slow
def test_a_full_disk_fails_the_release_cleanly(small_disk: Path, tmp_path: Path) -> None:
    server = Server(small_disk / "root")
    repo = server.create_app("app", tmp_path / "work")
    repo.commit({"Procfile": "release: echo ok\n", "small.txt": "fits\n"})
    assert "Released v1" in repo.push().stderr
    server.wait_idle("app")
    with (repo.work / "big.bin").open("wb") as handle:  # incompressible: the repository and
        handle.write(os.urandom(22 << 20))            # the extraction cannot both fit
    repo.commit(message="too big for the disk")
    text = repo.push(check=False).stderr
    assert "Release v2 failed: build failed — v1 is still live" in text, text
    assert "No space left on device" in text
    v2 = server.release("app", 2)
    assert (v2["status"], v2["reason"]) == ("failed", "build failed")
    assert server.current("app") == "releases/v1"
    assert (server.root / "apps/app/current/small.txt").read_text() == "fits\n"
    app = server.root / "apps/app"
    server.wait_idle("app")
    assert list((app / "tmp").iterdir()) == []
    assert not (app / "releases/v2").exists()
    assert [p for p in app.rglob("*") if ".tmp-" in p.name] == []
    (repo.work / "big.bin").unlink()
    repo.commit(message="smaller again")
    assert "Released v3" in repo.push().stderr
    assert run(["df", "--output=avail", str(small_disk)]).stdout


def test_a_queued_release_waits_only_for_the_verdict_not_the_postdeploy(
        make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: touch /data/started; "
                                        "until [ -e /data/go ]; do sleep 0.05; done\n"
                                        "postdeploy: until [ -e /data/gate ]; do sleep 0.1; "
                                        "done\n"})
    started, go, gate = (repo.data / name for name in ("started", "go", "gate"))
    pushing = repo.push_popen()
    wait_for(started.exists, 30, what="v1's release phase")
    # v2 is queued behind v1 while v1's release phase runs; then v1 goes live and its
    # postdeploy runs (until the gate opens): v2 must not wait for that
    setting = subprocess.Popen([GITDEPLOY, "--root", str(server.root), "config:set", "-a",
                                "app", "K=1"], stdout=subprocess.PIPE, text=True)
    wait_for(lambda: len(server.releases("app")) == 2, 30, what="v2 to be queued")
    go.touch()
    try:
        out, _ = setting.communicate(timeout=20)
        assert setting.returncode == 0
        assert "Released v2 (Set K config vars)" in out
        assert server.release("app", 1)["postdeploy_status"] == "running"
    finally:
        gate.touch()
        setting.kill()
        pushing.wait(timeout=30)
    server.wait_idle("app")
    assert [r["postdeploy_status"] for r in server.releases("app")] == ["succeeded"] * 2


def test_concurrent_config_sets_before_the_first_release_all_apply(make_app: MakeApp,
                                                                    server: Server) -> None:
    make_app("app")
    procs = [subprocess.Popen([GITDEPLOY, "--root", str(server.root), "config:set", "-a", "app",
                               f"K{i}={i}"], stdout=subprocess.DEVNULL) for i in range(40)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 40
    config = json.loads(server.gd("config", "-a", "app", "--json").stdout)
    assert config == {f"K{i}": str(i) for i in range(40)}
    assert server.releases("app") == []


def test_scale_reads_the_live_release_under_the_app_lock(make_app: MakeApp,
                                                         server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: true\nweb: sleep 1000\n"})
    started, go = repo.data / "started", repo.data / "go"
    repo.push()                                            # v1: web only
    repo.commit({"Procfile": "release: touch /data/started; until [ -e /data/go ]; do "
                             "sleep 0.05; done\nweb: sleep 1000\nclock: sleep 1000\n"})
    pushing = repo.push_popen()                            # v2 adds clock
    wait_for(started.exists, 30, what="v2's release phase")
    scaling = subprocess.Popen([GITDEPLOY, "--root", str(server.root), "ps:scale", "-a", "app",
                                "clock=1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):     # it waits for v2, then reads
            scaling.wait(timeout=1.5)
        go.touch()
        out, err = scaling.communicate(timeout=30)
    finally:
        go.touch()
        scaling.kill()
        pushing.wait(timeout=30)
    assert scaling.returncode == 0, err
    assert "Scaled clock=1" in out
    assert server.current("app") == "releases/v2"


def test_a_queued_rollbacks_target_is_not_pruned_by_the_release_ahead(
        make_app: MakeApp, server: Server) -> None:
    # with a build command, the slug is the only source of a release's files once pruned
    keep = {"gitdeploy.yml": "keep_releases: 1\nbuild: 'true'\n"}
    repo = make_app("app", {"Procfile": "release: true\n", "n": "1", **keep})
    started, go = repo.data / "started", repo.data / "go"
    repo.push()                                            # v1
    repo.commit({"n": "2"})
    repo.push()                                            # v2: v1 is the rollback target
    repo.commit({"n": "3", "Procfile": "release: touch /data/started; until [ -e /data/go ]; "
                                       "do sleep 0.05; done\n"})
    pushing = repo.push_popen()                            # v3 waits in its release phase
    wait_for(started.exists, 30, what="v3's release phase")
    rolling = subprocess.Popen([GITDEPLOY, "--root", str(server.root), "rollback", "-a", "app",
                                "v1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)                  # v4, queued: v1 is still kept
    wait_for(lambda: len(server.releases("app")) == 4, 30, what="v4 to be queued")
    go.touch()
    out, err = rolling.communicate(timeout=60)
    pushing.wait(timeout=30)
    assert rolling.returncode == 0, out + err
    assert "Released v4 (Rollback to v1)" in out
    assert (server.root / "apps/app/current/n").read_text() == "1"


def test_destroy_refuses_while_a_postdeploy_runs(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": "release: true\n"
                                        "postdeploy: until [ -e $GITDEPLOY_DATA/gate ]; do "
                                        "sleep 0.1; done\n"})
    gate = repo.data / "gate"
    repo.push()
    try:
        refused = server.gd("apps:destroy", "app", "--confirm", "app", check=False)
        assert refused.returncode == 1, refused
        assert "the postdeploy of v1 is running" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert (server.root / "apps/app/current").exists()
        assert server.release("app", 1)["postdeploy_status"] == "running"
    finally:
        gate.touch()
    server.wait_idle("app")
    assert server.release("app", 1)["postdeploy_status"] == "succeeded"
    server.gd("apps:destroy", "app", "--confirm", "app")
    assert not (server.root / "apps/app").exists()

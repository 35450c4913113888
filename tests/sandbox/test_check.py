"""Failing closed: when no sandbox can be made, the sentence names the cause and the fix."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitdeploy.errors import GitdeployError
from gitdeploy.sandbox import check
from gitdeploy.sandbox.bwrap import Sandbox


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    check.problem.cache_clear()
    yield
    check.problem.cache_clear()


def test_a_sandbox_can_be_made_here() -> None:
    assert check.problem() is None


def test_without_bubblewrap_it_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    said = check.problem()
    assert said is not None and "bubblewrap is not installed" in said
    assert "apt-get install bubblewrap" in said and "GITDEPLOY_SANDBOX=off" in said


def test_a_kernel_without_user_namespaces_is_named_with_its_fix() -> None:
    """bubblewrap's own words when user namespaces are off (Debian's sysctl, or Ubuntu
    24.04's AppArmor restriction)."""
    said = check.explain(1, "bwrap: No permissions to creating new namespace, likely because "
                            "the kernel does not allow non-privileged user namespaces.\n")
    assert said is not None and "cannot create a user namespace" in said
    assert "kernel.unprivileged_userns_clone=1" in said
    assert "kernel.apparmor_restrict_unprivileged_userns=0" in said
    assert check.explain(0, "") is None


@pytest.mark.parametrize(("value", "enabled"), [(None, True), ("on", True), ("off", False)])
def test_the_operator_chooses_shared_trust_explicitly(monkeypatch: pytest.MonkeyPatch,
                                                      value: str | None, enabled: bool) -> None:
    if value is None:
        monkeypatch.delenv(check.MODE_VAR, raising=False)
    else:
        monkeypatch.setenv(check.MODE_VAR, value)
    assert check.enabled() is enabled


def test_a_bad_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(check.MODE_VAR, "no")
    with pytest.raises(GitdeployError, match="must be on or off, not 'no'"):
        check.enabled()


def test_what_the_sandbox_shows(tmp_path: Path) -> None:
    """The view, run for real: its release read-only at /app, /data writable, no server."""
    (tmp_path / "app").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "app" / "f").write_text("release file\n")
    (tmp_path / "secret").write_text("server file\n")
    box = Sandbox(files=tmp_path / "app", data=tmp_path / "data")
    script = ("cat f; echo w > f || echo ro; echo d > /data/d && echo rw; "
              f"cat {tmp_path}/secret || echo hidden; ls /home /root 2>&1 | head -1; pwd")
    done = subprocess.run(box.argv(["/bin/sh", "-c", script]), cwd=box.host_cwd,
                          capture_output=True, text=True, timeout=30, check=False)
    lines = done.stdout.splitlines()
    assert lines[:4] == ["release file", "ro", "rw", "hidden"] and lines[-1] == "/app"
    assert "No such file or directory" in lines[4]
    assert (tmp_path / "data" / "d").read_text() == "d\n"
    assert "Read-only file system" in done.stderr


def test_a_build_root_is_one_mount_for_app_and_cache(tmp_path: Path) -> None:
    """A build sees its root at /: /app and /cache in one mount, so a hard link from the
    cache into the release works (link(2) refuses to cross mounts); the tools it is given
    are read-only; nothing else of the host is there."""
    root = tmp_path / "build"
    (root / "app").mkdir(parents=True)
    (root / "cache").mkdir()
    (root / "cache" / "pkg.py").write_text("cached\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "tool").write_text("#!/bin/sh\necho tool ran\n")
    (tmp_path / "tool").chmod(0o755)
    (tmp_path / "secret").write_text("server file\n")
    box = Sandbox(files=root / "app", data=tmp_path / "data", writable=True, root=root,
                  tools=((str(tmp_path / "tool"), "/opt/gitdeploy/bin/tool"),))
    script = ("ln /cache/pkg.py /app/pkg.py && echo linked; /opt/gitdeploy/bin/tool; "
              "echo x > /opt/gitdeploy/bin/tool || echo tool-ro; "
              f"cat {tmp_path}/secret || echo hidden; pwd")
    done = subprocess.run(box.argv(["/bin/sh", "-c", script]), cwd=box.host_cwd,
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.stdout.splitlines() == ["linked", "tool ran", "tool-ro", "hidden", "/app"]
    assert (root / "app" / "pkg.py").stat().st_nlink == 2
    with pytest.raises(ValueError, match="holds its files at app/"):
        Sandbox(files=tmp_path / "elsewhere", data=tmp_path / "data", root=root).argv(["true"])

"""A real `systemd --user` manager for a dedicated test user, even when systemd is not PID 1.

Without logind we do by hand what pam_systemd + user@.service would do: make sd_booted() true,
create /run/user/UID, create and delegate (chown) the user@UID.service cgroup in every hierarchy
systemd uses, move a process into it as root, then drop to the user and exec `systemd --user`.
Caveats: no journald (units need `StandardOutput=append:FILE`), no lingering, and
`systemd-run --user --scope` only works from inside the user's cgroup (`--unit` works).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.support import unavailable
from tests.support.users import ensure_user

SD_BOOTED_DIR = Path("/run/systemd/system")
# Survives a crashed run, so the next stop() knows /run/systemd/system was ours to remove.
SD_BOOTED_MARKER = Path("/run/gitdeploy-tests-created-run-systemd-system")
SYSTEMD_CANDIDATES = ("/lib/systemd/systemd", "/usr/lib/systemd/systemd")
PATH = "/usr/local/bin:/usr/bin:/bin"
_running: set[int] = set()  # uids with a live manager; the sd_booted dir goes with the last


class CommandFailed(subprocess.CalledProcessError):
    def __str__(self) -> str:
        out = (self.stdout or b"").decode(errors="replace") + (self.stderr or b"").decode(
            errors="replace"
        )
        return f"{super().__str__()}\n{out.strip()}"


def _cgroup_roots() -> list[Path]:
    """Mount points of the hierarchies systemd uses: cgroup2 and/or the v1 `name=systemd` one."""
    roots = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fstype, _source, options = after.split()[:3]
        if fstype == "cgroup2" or (fstype == "cgroup" and "name=systemd" in options.split(",")):
            roots.append(Path(before.split()[4]))
    return roots


def _pid1_is_systemd() -> bool:
    return Path("/proc/1/comm").read_text().strip() == "systemd"


class UserManager:
    def __init__(self, user: str) -> None:
        pw = ensure_user(user)
        self.user, self.uid, self.gid, self.home = user, pw.pw_uid, pw.pw_gid, pw.pw_dir
        self.runtime_dir = f"/run/user/{self.uid}"
        self.env: dict[str, str] = {
            "HOME": self.home,
            "USER": user,
            "LOGNAME": user,
            "PATH": PATH,
            "XDG_RUNTIME_DIR": self.runtime_dir,
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path={self.runtime_dir}/bus",
        }
        leaf = Path("user.slice", f"user-{self.uid}.slice", f"user@{self.uid}.service")
        self.cgroups = [root / leaf for root in _cgroup_roots()]
        self.log_path = Path(f"/tmp/gitdeploy-systemd-user-{self.uid}.log")
        self.process: subprocess.Popen[bytes] | None = None
        self.system_unit = _pid1_is_systemd()  # real systemd: let it run user@UID.service
        self.setpriv = [
            shutil.which("setpriv") or "/usr/bin/setpriv",
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            "--init-groups",
            "--",
        ]

    def run_as(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        timeout: float = 60,
        check: bool = True,
        input: bytes | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run argv as the user (setpriv: real+effective uid/gid, the user's groups)."""
        result = subprocess.run(
            [*self.setpriv, *argv],
            env={**self.env, **(env or {})},
            cwd=self.home,
            input=input,
            capture_output=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise CommandFailed(result.returncode, argv, result.stdout, result.stderr)
        return result

    def systemctl(
        self, *args: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[bytes]:
        return self.run_as(["systemctl", "--user", *args], check=check, timeout=timeout)

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-2000:]
        return ""

    def _cgroup_pids(self) -> set[int]:
        pids: set[int] = set()
        for top in self.cgroups:
            for procs in top.rglob("cgroup.procs") if top.is_dir() else ():
                with contextlib.suppress(OSError):  # the cgroup may vanish meanwhile
                    pids.update(int(p) for p in procs.read_text().split())
        return pids

    def _remove_cgroups(self) -> bool:
        """rmdir the user's cgroups leaf-first; True when none is left."""
        for top in self.cgroups:
            if top.is_dir():
                for dirpath, _dirs, _files in os.walk(top, topdown=False):
                    with contextlib.suppress(OSError):
                        os.rmdir(dirpath)
            for parent in (top.parent, top.parent.parent):  # user-UID.slice, user.slice
                with contextlib.suppress(OSError):  # busy: still used by someone else
                    parent.rmdir()
        return not any(top.exists() for top in self.cgroups)

    def _cleanup(self) -> None:
        """Kill whatever is left in the user's cgroups, remove them and the runtime dir."""
        if self.system_unit:
            units = [f"user@{self.uid}.service", f"user-runtime-dir@{self.uid}.service"]
            subprocess.run(["systemctl", "stop", *units], timeout=60)
            return
        deadline, killed = time.monotonic() + 15, set[int]()
        while True:
            for pid in self._cgroup_pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
            if self.process is not None and self.process.poll() is None:
                self.process.kill()
            if self.process is not None:
                self.process.wait(timeout=10)
            if self._remove_cgroups():
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"cgroups of {self.user} still busy: {self._cgroup_pids()}")
            time.sleep(0.05)
        shutil.rmtree(self.runtime_dir, ignore_errors=True)
        # Orphans (e.g. a crashed run's manager) are zombies until PID 1 reaps them; this
        # machine's PID 1 (not systemd) does so only about once a second. Zombies hold nothing,
        # so do not fail, but give them a moment so `pgrep -u USER` comes back empty.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in killed):
            time.sleep(0.05)

    def stop(self) -> None:
        """Exit the manager (gracefully, then by force) and undo everything start did."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.systemctl("exit", check=False, timeout=10)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        self._cleanup()
        self.process = None
        _running.discard(self.uid)
        if not _running and SD_BOOTED_MARKER.exists():
            with contextlib.suppress(FileNotFoundError):
                SD_BOOTED_DIR.rmdir()
            SD_BOOTED_MARKER.unlink()

    def _join_cgroups(self) -> None:
        """preexec_fn, still root in the child: move this process into the delegated cgroups."""
        for cgroup in self.cgroups:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))

    def _launch(self, systemd: str) -> None:
        if not SD_BOOTED_DIR.exists():
            SD_BOOTED_DIR.mkdir(parents=True)
            SD_BOOTED_MARKER.touch()
        os.makedirs(os.path.dirname(self.runtime_dir), exist_ok=True)
        os.mkdir(self.runtime_dir, 0o700)
        os.chown(self.runtime_dir, self.uid, self.gid)
        try:
            for cgroup in self.cgroups:
                cgroup.mkdir(parents=True)
                for path in [cgroup, *cgroup.iterdir()]:
                    os.chown(path, self.uid, self.gid)
        except OSError as e:
            unavailable(f"cannot create a delegated cgroup for {self.user}: {e}")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*self.setpriv, systemd, "--user"],
                env=self.env,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=self._join_cgroups,
            )

    def wait_running(self, timeout: float = 30) -> None:
        deadline, state = time.monotonic() + timeout, ""
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"systemd --user exited early:\n{self.log_tail()}")
            result = self.systemctl("is-system-running", check=False, timeout=10)
            state = result.stdout.decode().strip()
            if state == "running":
                return
            if state == "degraded":
                failed = self.systemctl("--failed", "--no-legend", check=False).stdout.decode()
                raise RuntimeError(f"systemd --user is degraded, failed units:\n{failed}")
            time.sleep(0.02)
        raise TimeoutError(
            f"systemd --user not running after {timeout}s ({state!r}):\n{self.log_tail()}"
        )


def start_user_manager(user: str) -> UserManager:
    """Start (after cleaning up any stale one) a systemd --user manager for `user`."""
    if os.geteuid() != 0:
        unavailable("starting a systemd --user manager for another user needs root")
    systemd = next((p for p in SYSTEMD_CANDIDATES if os.access(p, os.X_OK)), None)
    missing = [t for t in ("systemctl", "setpriv") if shutil.which(t) is None]
    if systemd is None or missing:
        unavailable(f"systemd --user needs the systemd binary, systemctl and setpriv: {missing}")
    manager = UserManager(user)
    if not manager.system_unit and not manager.cgroups:
        unavailable("no cgroup2 or name=systemd cgroup hierarchy is mounted")
    manager.stop()  # stale state from a crashed run
    _running.add(manager.uid)
    try:
        if manager.system_unit:
            subprocess.run(
                ["systemctl", "start", f"user@{manager.uid}.service"], check=True, timeout=60
            )
        else:
            manager._launch(systemd)
        manager.wait_running()
    except BaseException:
        manager.stop()
        raise
    return manager

"""systemctl: the one place that writes unit files and talks to the service manager.

User units of the deploy user by default (no root needed; with lingering they start at
boot); ``GITDEPLOY_SYSTEMD=system`` uses the system manager (root installs),
``GITDEPLOY_SYSTEMD=off`` leaves processes alone.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from gitdeploy.errors import GitdeployError
from gitdeploy.processes.units import UnitFile
from gitdeploy.store.fsops import atomic_write

TIMEOUT = 90


class Systemd:
    def __init__(self, scope: str) -> None:
        self.scope = scope
        if scope == "user":
            config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
            self.unit_dir = Path(config) / "systemd" / "user"
        else:
            self.unit_dir = Path("/etc/systemd/system")

    @classmethod
    def from_environment(cls) -> Systemd | None:
        """The manager to use, or None when disabled or not reachable."""
        scope = os.environ.get("GITDEPLOY_SYSTEMD", "user")
        if scope == "off":
            return None
        if scope not in ("user", "system"):
            raise GitdeployError(f"GITDEPLOY_SYSTEMD must be user, system or off, not {scope!r}")
        manager = cls(scope)
        return manager if manager.available() else None

    def runtime_dir(self) -> Path:
        return Path(os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}")

    def available(self) -> bool:
        if self.scope == "system":
            return Path("/run/systemd/system").is_dir() and os.geteuid() == 0
        return (self.runtime_dir() / "systemd" / "private").exists()

    def journald(self) -> bool:
        return Path("/run/systemd/journal/socket").exists()

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.scope == "user":
            env.setdefault("XDG_RUNTIME_DIR", str(self.runtime_dir()))
        return env

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = ["systemctl", *(["--user"] if self.scope == "user" else []), *args]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT,
                                  env=self._env(), check=False)
        except subprocess.TimeoutExpired:
            raise GitdeployError(f"systemctl {args[0]} timed out after {TIMEOUT} s") from None
        if check and done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise GitdeployError(f"systemctl {' '.join(args[:2])} failed: "
                                 f"{detail[-1] if detail else done.returncode}")
        return done

    def journal(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``journalctl`` of this manager's scope, without a pager; never raises on its exit."""
        argv = ["journalctl", "--user" if self.scope == "user" else "--system", "--no-pager",
                *args]
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT,
                                  env=self._env(), check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return subprocess.CompletedProcess(argv, 1, "", str(exc))

    def installed(self, prefix: str) -> list[str]:
        """Names of the unit files written for ``prefix`` (one app's units)."""
        if not self.unit_dir.is_dir():
            return []
        return sorted(p.name for p in self.unit_dir.iterdir() if p.name.startswith(prefix))

    def sync(self, prefix: str, units: Iterable[UnitFile]) -> bool:
        """Make the app's unit files exactly ``units``: write changed ones, stop and delete the
        others; daemon-reload only if something changed. True if something changed."""
        self.unit_dir.mkdir(parents=True, exist_ok=True)
        wanted = {unit.name: unit for unit in units}
        changed = False
        stale = [name for name in self.installed(prefix) if name not in wanted]
        if stale:
            self.systemctl("stop", *stale, check=False)
            for name in stale:
                (self.unit_dir / name).unlink(missing_ok=True)
            changed = True
        for unit in wanted.values():
            path = self.unit_dir / unit.name
            try:
                same = path.read_text() == unit.text
            except FileNotFoundError:
                same = False
            if not same:
                atomic_write(path, unit.text.encode(), 0o644)
                changed = True
        if changed:
            self.systemctl("daemon-reload")
        return changed

    def add(self, units: Iterable[UnitFile]) -> None:
        """Write ``units`` beside the others, then daemon-reload."""
        self.unit_dir.mkdir(parents=True, exist_ok=True)
        for unit in units:
            atomic_write(self.unit_dir / unit.name, unit.text.encode(), 0o644)
        self.systemctl("daemon-reload")

    def remove(self, names: list[str]) -> None:
        """Stop ``names`` (gracefully: SIGTERM, SIGKILL after their stop timeout) and delete
        their unit files."""
        if not names:
            return
        self.systemctl("stop", *names, check=False)
        for name in names:
            (self.unit_dir / name).unlink(missing_ok=True)
        self.systemctl("daemon-reload")
        self.systemctl("reset-failed", *names, check=False)

    def properties(self, units: list[str], *names: str) -> dict[str, dict[str, str]]:
        """``systemctl show`` of several units: unit -> {property: value}."""
        if not units:
            return {}
        done = self.systemctl("show", "-p", ",".join(("Id", *names)), *units, check=False)
        result: dict[str, dict[str, str]] = {}
        for block in done.stdout.strip().split("\n\n"):
            values = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
            if "Id" in values:
                result[values["Id"]] = values
        return result

    def run_transient(self, unit: str, argv: list[str], env: dict[str, str],
                      output: Path) -> None:
        """Start ``argv`` as its own transient service ``unit`` (collected when it ends),
        stdout and stderr appended to ``output``. Its environment is ``env``, passed by name
        only (systemd-run takes each value from its own environment), so no value is in
        anyone's argv."""
        own = {**env, **({"XDG_RUNTIME_DIR": str(self.runtime_dir())}
                         if self.scope == "user" else {})}
        names = [name for name in own if name.isidentifier() and name.isascii()]
        argv = ["systemd-run", *(["--user"] if self.scope == "user" else []), "--collect",
                "--quiet", f"--unit={unit}", "--property=Type=exec",
                f"--property=StandardOutput=append:{output}",
                f"--property=StandardError=append:{output}", "--working-directory=/",
                *(f"--setenv={name}" for name in names), "--", *argv]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT,
                                  env=own, check=False, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GitdeployError(f"systemd-run could not start {unit}: {exc}") from None
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise GitdeployError(f"systemd-run could not start {unit}: "
                                 f"{detail[-1] if detail else done.returncode}")

    def is_running(self, unit: str) -> bool:
        return self.systemctl("is-active", "--quiet", unit, check=False).returncode == 0

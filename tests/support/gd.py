"""Drives gitdeploy the way users do: the installed console script and real `git push`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GITDEPLOY = str(Path(sys.executable).with_name("gitdeploy"))
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
}


def run(argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        check: bool = True, timeout: float = 120, input: str | None = None,
        ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, input=input, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{argv} exited {done.returncode}\nstdout:\n{done.stdout}\n"
                             f"stderr:\n{done.stderr}")
    return done


def wait_for(predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.05,
             what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Server:
    root: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    def gd(self, *args: str, check: bool = True, timeout: float = 120,
           input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run([GITDEPLOY, "--root", str(self.root), *args], env=self.env, check=check,
                   timeout=timeout, input=input)

    def releases(self, app: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = json.loads(self.gd("releases", "-a", app, "--json").stdout)
        return result

    def release(self, app: str, version: int) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(
            self.gd("releases:info", "-a", app, f"v{version}", "--json").stdout)
        return result

    def wait_final(self, app: str, version: int, timeout: float = 60) -> dict[str, Any]:
        def final() -> dict[str, Any] | None:
            found = [r for r in self.releases(app) if r["version"] == version]
            return found[0] if found and found[0]["status"] in ("succeeded", "failed") else None

        result: dict[str, Any] = wait_for(final, timeout, 0.1, f"v{version} to end")
        return result

    def wait_idle(self, app: str, timeout: float = 60) -> None:
        """Until no worker of the app runs (slugs are packed and old releases pruned after
        the verdict the pusher sees)."""
        from gitdeploy.store.locks import is_held

        locks = self.root / "apps" / app / "locks"
        wait_for(lambda: not any(is_held(path) for path in locks.glob("*.lock")), timeout,
                 0.05, f"{app}'s workers to finish")

    def current(self, app: str) -> str | None:
        link = self.root / "apps" / app / "current"
        return os.readlink(link) if os.path.lexists(link) else None

    def data_dir(self, app: str) -> Path:
        """The app's data directory on the host: /data (``$GITDEPLOY_DATA``) in its sandbox,
        the one place of the host its code sees. Files the test and app code share go here."""
        return self.root / "apps" / app / "data"

    def log(self, app: str, version: int) -> str:
        return (self.root / "apps" / app / "logs" / f"v{version}.log").read_text()

    def create_app(self, name: str, workdir: Path) -> AppRepo:
        self.gd("apps:create", name)
        work = workdir / name
        run(["git", "init", "-q", "-b", "main", str(work)])
        run(["git", "remote", "add", "deploy", str(self.root / "repos" / f"{name}.git")],
            cwd=work)
        return AppRepo(self, name, work)


@dataclass
class AppRepo:
    server: Server
    name: str
    work: Path

    @property
    def data(self) -> Path:
        """The app's data directory on the host (``$GITDEPLOY_DATA`` in its sandbox)."""
        return self.server.data_dir(self.name)

    def write(self, files: dict[str, str]) -> None:
        for path, content in files.items():
            target = self.work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)

    def commit(self, files: dict[str, str] | None = None, message: str = "change") -> str:
        if files:
            self.write(files)
        env = {**os.environ, **GIT_IDENTITY}
        run(["git", "add", "-A"], cwd=self.work)
        run(["git", "commit", "-q", "--allow-empty", "-m", message], cwd=self.work, env=env)
        return run(["git", "rev-parse", "HEAD"], cwd=self.work).stdout.strip()

    def push(self, *refspec: str, check: bool = True, timeout: float = 120,
             env: dict[str, str] | None = None, fails: bool = False
             ) -> subprocess.CompletedProcess[str]:
        """``fails``: the push deploys nothing (a failed or refused release), so git reports
        the branch rejected and exits 1."""
        done = run(["git", "push", "deploy", *(refspec or ("main",))], cwd=self.work,
                   check=check and not fails, timeout=timeout, env=env)
        if fails:
            assert done.returncode == 1 and "[remote rejected]" in done.stderr, done.stderr
        return done

    def push_popen(self, *refspec: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            ["git", "push", "--progress", "deploy", *(refspec or ("main",))], cwd=self.work,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )

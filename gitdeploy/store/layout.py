"""Where everything lives under ROOT (SPEC section 2). Pure path arithmetic, no I/O."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_root() -> Path:
    env = os.environ.get("GITDEPLOY_ROOT")
    return Path(env) if env else Path.home() / ".gitdeploy"


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def ledger(self) -> Path:
        return self.state_dir / "ledger.sqlite3"

    @property
    def oplog(self) -> Path:
        return self.root / "log" / "gitdeploy.jsonl"

    @property
    def repos_dir(self) -> Path:
        return self.root / "repos"

    @property
    def apps_dir(self) -> Path:
        return self.root / "apps"

    def repo(self, app: str) -> Path:
        return self.repos_dir / f"{app}.git"

    def app_dir(self, app: str) -> Path:
        return self.apps_dir / app

    def current(self, app: str) -> Path:
        return self.app_dir(app) / "current"

    def current_env(self, app: str) -> Path:
        """Symlink to the live release's env file: what systemd's EnvironmentFile= reads."""
        return self.app_dir(app) / "current.env"

    def data_dir(self, app: str) -> Path:
        """The app's persistent directory (uploads, SQLite files): /data in its sandbox."""
        return self.app_dir(app) / "data"

    def build_root(self, app: str) -> Path:
        """Where builds happen: a sandboxed build sees it as / (its files at app/, its cache
        at cache/); only the build's own release and the cache outlive a build."""
        return self.app_dir(app) / "build"

    def build_cache(self, app: str) -> Path:
        """The app's build cache (uv's, npm's): kept across releases, never seen by a running
        app."""
        return self.build_root(app) / "cache"

    def releases_dir(self, app: str) -> Path:
        return self.app_dir(app) / "releases"

    def release_dir(self, app: str, version: int) -> Path:
        return self.releases_dir(app) / f"v{version}"

    def env_file(self, app: str, version: int) -> Path:
        return self.releases_dir(app) / f"v{version}.env"

    def slugs_dir(self, app: str) -> Path:
        return self.app_dir(app) / "slugs"

    def slug(self, app: str, version: int) -> Path:
        return self.slugs_dir(app) / f"v{version}.tar.gz"

    def manifest(self, app: str, version: int) -> Path:
        """What the slug holds, per file: lets a new release reuse unchanged files."""
        return self.slugs_dir(app) / f"v{version}.manifest"

    def logs_dir(self, app: str) -> Path:
        return self.app_dir(app) / "logs"

    def log(self, app: str, version: int) -> Path:
        return self.logs_dir(app) / f"v{version}.log"

    def tls_dir(self, app: str) -> Path:
        """The app's TLS certificate and key: a symlink to a directory written in full
        before it is swapped in, so the two always belong together."""
        return self.app_dir(app) / "tls"

    def tls_cert(self, app: str) -> Path:
        """The certificate, then its chain (PEM, 0644)."""
        return self.tls_dir(app) / "cert.pem"

    def tls_key(self, app: str) -> Path:
        """The certificate's private key (PEM, 0600)."""
        return self.tls_dir(app) / "key.pem"

    def tls_lock(self, app: str) -> Path:
        return self.locks_dir(app) / "tls.lock"

    def tmp_dir(self, app: str) -> Path:
        """Scratch space on the same filesystem as releases/, so renames are atomic."""
        return self.app_dir(app) / "tmp"

    def locks_dir(self, app: str) -> Path:
        return self.app_dir(app) / "locks"

    def app_lock(self, app: str) -> Path:
        return self.locks_dir(app) / "app.lock"

    def release_lock(self, app: str, version: int) -> Path:
        """Held by the worker of release vN for its whole life: free means the worker is gone."""
        return self.locks_dir(app) / f"v{version}.lock"

    def turn_lock(self, app: str, version: int) -> Path:
        """Held by the worker of release vN until its verdict is recorded: the next release
        waits on it (not on the slug packing or the postdeploy that follow the verdict)."""
        return self.locks_dir(app) / f"v{version}.turn.lock"

    @property
    def nginx_dir(self) -> Path:
        """The front door's config: gitdeploy.conf (what the system nginx includes), apps/
        (one file per app), and ``reload``, touched when nginx should reload."""
        return self.root / "nginx"

    def no_route_said(self, app: str) -> Path:
        """Present once the app's pushers were told nothing routes a domain to its web."""
        return self.app_dir(app) / "no-route-said"

    def no_manager_said(self, app: str) -> Path:
        """Present once the app's pushers were told no systemd manager is reachable."""
        return self.app_dir(app) / "no-manager-said"

    def postdeploy_lock(self, app: str) -> Path:
        return self.locks_dir(app) / "postdeploy.lock"

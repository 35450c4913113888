"""The build cache (builds:cache:purge) and the server's network settings for builds
(builds:env, builds:env:set, builds:env:unset)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from gitdeploy.appconfig.buildenv import check_name, network_settings
from gitdeploy.appconfig.masking import is_secret, masked_url
from gitdeploy.errors import GitdeployError, UsageError
from gitdeploy.store.fsops import remove_tree
from gitdeploy.store.locks import FileLock
from gitdeploy.store.server import Server


def tree_size(path: str) -> int:
    """Bytes of the files under ``path`` (each inode once: a cache shares them by hard link)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            try:
                info = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total


def purge_cache(server: Server, app: str) -> int:
    """Empty the app's build cache; the bytes it held. Refused while a release of the app
    runs (its build may be reading the cache)."""
    server.app(app)
    lock = FileLock(server.layout.app_lock(app))
    if not server.layout.locks_dir(app).is_dir() or not lock.acquire(timeout=0):
        raise GitdeployError(f"a release of {app} is running: purge its build cache once it "
                             "has ended")
    try:
        cache = server.layout.build_cache(app)
        if not cache.is_dir():
            return 0
        size = tree_size(str(cache))
        aside = cache.with_name(f".purged-{os.getpid()}")  # the next build removes leftovers
        os.rename(cache, aside)
        remove_tree(aside)
        return size
    finally:
        lock.release()


def build_env(server: Server) -> dict[str, tuple[str, str]]:
    """What builds get: {name: (value as shown, where it comes from)}. Secrets (a proxy's
    password) are masked."""
    stored = server.ledger.build_env()
    found = network_settings(os.environ, stored)
    shown = {}
    for name, value in sorted(found.items()):
        origin = "server setting" if name in stored else "environment"
        text = masked_url(value) or ("*****" if is_secret(name, value) else value)
        shown[name] = (text, origin)
    return shown


def set_build_env(server: Server, pairs: list[str],
                  environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Store ``pairs`` (NAME=VALUE), and the network settings found in ``environ``."""
    values = network_settings(environ, {}) if environ is not None else {}
    if not pairs and not values:
        raise UsageError("name at least one NAME=VALUE" if environ is None else
                         "this environment has no network settings to store")
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals:
            raise UsageError(f"{pair!r} is not NAME=VALUE")
        _check(name)
        if "\0" in value or "\n" in value:
            raise UsageError(f"the value of {name} must be one line")
        values[name] = value
    server.open_ledger().change_build_env(values, [])
    return values


def unset_build_env(server: Server, names: list[str]) -> None:
    for name in names:
        _check(name)
    server.open_ledger().change_build_env({}, names)


def _check(name: str) -> None:
    problem = check_name(name)
    if problem is not None:
        raise UsageError(problem)

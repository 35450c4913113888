"""What an ssh key may run: parsing ``$SSH_ORIGINAL_COMMAND`` and the per-key ACL. Pure.

The words arrive unparsed (``releases -a x; rm -rf /`` arrives whole). They are split with
shlex, never handed to a shell, and only the git transport for one app or one of gitdeploy's
user commands is accepted; everything else is refused before anything runs.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from gitdeploy.errors import UsageError
from gitdeploy.model import names
from gitdeploy.model.access import Access

MAX_COMMAND = 4096
GIT_COMMANDS = {"git-receive-pack": "receive-pack", "git-upload-pack": "upload-pack"}
# Commands a key with access to an app may run on it (over ssh: push, releases, config,
# rollback, processes, logs, its domains and TLS certificate).
APP_COMMANDS = frozenset({
    "deploy", "releases", "releases:info", "releases:output", "rollback", "config",
    "config:get", "config:set", "config:unset", "ps", "ps:scale", "ps:restart", "logs",
    "promote", "run", "builds:cache:purge", "domains", "domains:add", "domains:remove",
    "certs", "certs:add", "certs:remove",
})
ADMIN_COMMANDS = frozenset({"apps:create", "apps:destroy", "keys", "keys:add", "keys:remove",
                            "builds:env", "builds:env:set", "builds:env:unset",
                            "settings", "settings:set", "settings:unset"})
OPEN_COMMANDS = frozenset({"apps", "help"})
SSH_COMMANDS = APP_COMMANDS | ADMIN_COMMANDS | OPEN_COMMANDS


@dataclass(frozen=True)
class GitRequest:
    service: str  # "receive-pack" (push) or "upload-pack" (fetch, clone)
    app: str


@dataclass(frozen=True)
class CommandRequest:
    argv: tuple[str, ...]  # a gitdeploy command and its arguments, "gitdeploy" stripped


Request = GitRequest | CommandRequest | None  # None: no command, show help


def decode(raw: bytes) -> str:
    """The command's text: UTF-8, no NUL, no control characters, bounded."""
    if len(raw) > MAX_COMMAND:
        raise UsageError(f"command refused: longer than {MAX_COMMAND} bytes")
    if b"\0" in raw:
        raise UsageError("command refused: it contains a NUL byte")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("command refused: it is not valid UTF-8") from None
    if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in text):
        raise UsageError("command refused: it contains control characters (newlines included)")
    return text


def parse(raw: bytes) -> Request:
    """Turn the client's words into a request, or raise UsageError saying why not."""
    text = decode(raw)
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"command refused: {exc}") from None
    if not words:
        return None
    if words[0] in GIT_COMMANDS:
        if len(words) != 2:
            raise UsageError(f"command refused: {words[0]} takes exactly one repository")
        return GitRequest(GIT_COMMANDS[words[0]], _repository_app(words[1]))
    if words[0] == "gitdeploy":
        words = words[1:]
        if not words:
            return None
    if words[0] not in SSH_COMMANDS:
        raise UsageError(f"command refused: {_shown(words[0])} is not a gitdeploy command "
                         "(run `help` for the list)")
    for word in words[1:]:
        if word == "--root" or word.startswith("--root="):
            raise UsageError("command refused: --root cannot be given over ssh")
    return CommandRequest(tuple(words))


def _repository_app(path: str) -> str:
    """``'app'``, ``'app.git'``, ``'/app'`` or ``'/app.git'`` -> app; no other path."""
    # git sends '/app' for an ssh://host/app remote: one leading slash is part of the form.
    name = path.removeprefix("/").removesuffix(".git")
    try:
        return names.app_name(name)
    except UsageError:
        raise UsageError(f"command refused: {_shown(path)} is not an app's repository") from None


def _shown(word: str) -> str:
    return repr(word if len(word) <= 40 else word[:40] + "...")


def no_access(key: str, app: str) -> str:
    """The same sentence whether or not the app exists (no probing for names), saying how
    an app comes to be."""
    return (f"key {key!r} has no access to app {app!r} "
            f"(apps are made by an admin: apps:create {app})")


def ssh_remote(user: str, connection: str | None, app: str) -> str | None:
    """The git remote of ``app`` as the client reached this server (``$SSH_CONNECTION``:
    client address and port, server address and port); None outside ssh."""
    parts = (connection or "").split()
    if len(parts) != 4:
        return None
    address, port = parts[2], parts[3]
    host = f"[{address}]" if ":" in address else address
    return f"{user}@{host}:{app}" if port == "22" else f"ssh://{user}@{host}:{port}/{app}"


def denial(access: Access, command: str, apps: Iterable[str]) -> str | None:
    """Why ``access`` may not run ``command`` on ``apps`` (None: allowed).

    The same sentence whether or not an app exists, so a key cannot probe for app names.
    """
    if access.admin:
        return None
    if command in ADMIN_COMMANDS:
        return f"key {access.key!r} is not an admin: {command} is refused"
    for app in apps:
        if not access.can(app):
            return no_access(access.key, app)
    return None

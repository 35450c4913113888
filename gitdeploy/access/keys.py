"""ssh keys: validated with ssh-keygen, kept in the ledger, rendered into authorized_keys.

Each key becomes one line ``command="<gitdeploy> --root ROOT ssh-command --key NAME",restrict
KEY`` so sshd runs the dispatcher (never a shell of the client's choosing) with no forwarding,
pty or agent. Lines gitdeploy did not write are preserved as they are.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gitdeploy.errors import GitdeployError, UsageError
from gitdeploy.model import names
from gitdeploy.resources import gitdeploy_command
from gitdeploy.store.fsops import atomic_write, private_dir
from gitdeploy.store.server import Server

KEY_TYPES = frozenset({
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
})


@dataclass(frozen=True)
class Key:
    name: str
    public_key: str  # "TYPE BASE64", no options, no comment
    fingerprint: str
    admin: bool
    apps: tuple[str, ...]


def authorized_keys_path() -> Path:
    override = os.environ.get("GITDEPLOY_AUTHORIZED_KEYS")
    return Path(override) if override else Path.home() / ".ssh" / "authorized_keys"


def parse_public_key(text: str) -> str:
    """One public key line -> "TYPE BASE64" (its comment dropped), or UsageError."""
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    if len(lines) != 1:
        raise UsageError(f"expected one public key on stdin, got {len(lines)} lines")
    fields = lines[0].split()
    if len(fields) < 2 or fields[0] not in KEY_TYPES:
        raise UsageError("not a public key: expected 'TYPE BASE64 [comment]' with TYPE one of "
                         + ", ".join(sorted(KEY_TYPES)) + " (and no options)")
    try:
        blob = base64.b64decode(fields[1], validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        embedded = blob[4 : 4 + length].decode()
    except (ValueError, struct.error, UnicodeDecodeError):
        raise UsageError("not a public key: its base64 part is damaged") from None
    if embedded != fields[0]:
        raise UsageError(f"not a public key: it says {fields[0]} but holds {embedded!r}")
    return f"{fields[0]} {fields[1]}"


def fingerprint(public_key: str) -> str:
    try:
        done = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", "/dev/stdin"],
                              input=public_key.encode() + b"\n", capture_output=True,
                              timeout=30, check=False)
    except FileNotFoundError:
        raise GitdeployError("ssh-keygen is not installed (package openssh-client)") from None
    if done.returncode != 0:
        raise UsageError("not a valid public key (ssh-keygen rejects it)")
    return done.stdout.decode().split()[1]


def _marker(server: Server) -> str:
    """What every line this server root wrote contains (and no other root's lines do)."""
    return f"--root {shlex.quote(str(server.root))} ssh-command --key "


def forced_command_line(server: Server, key: Key) -> str:
    command = shlex.join([*gitdeploy_command(), "--root", str(server.root), "ssh-command",
                          "--key", key.name])
    quoted = command.replace("\\", "\\\\").replace('"', '\\"')
    return f'command="{quoted}",restrict {key.public_key} gitdeploy:{key.name}'


def load(server: Server) -> list[Key]:
    return [Key(row["name"], row["public_key"], row["fingerprint"], bool(row["admin"]),
                tuple(json.loads(row["apps"]))) for row in server.ledger.key_rows()]


def get(server: Server, name: str) -> Key | None:
    return next((key for key in load(server) if key.name == name), None)


def sync_authorized_keys(server: Server) -> Path:
    """Rewrite our lines of authorized_keys from the ledger, keeping everyone else's."""
    path = authorized_keys_path()
    private_dir(path.parent)
    try:
        existing = path.read_text().splitlines()
    except FileNotFoundError:
        existing = []
    marker = _marker(server).replace("\\", "\\\\").replace('"', '\\"')
    others = [line for line in existing if marker not in line]
    ours = [forced_command_line(server, key) for key in load(server)]
    atomic_write(path, "".join(line + "\n" for line in others + ours).encode(), 0o600)
    return path


def add(server: Server, name: str, key_text: str, admin: bool, apps: list[str]) -> Key:
    names.key_name(name)
    for app in apps:
        names.app_name(app)
    if admin and apps:
        raise UsageError("an admin key has every app: give --admin or --apps, not both")
    public_key = parse_public_key(key_text)
    print_ = fingerprint(public_key)
    ledger = server.open_ledger()
    for existing in load(server):
        if existing.name == name:
            raise UsageError(f"key {name!r} exists: remove it first (keys:remove {name})")
        if existing.fingerprint == print_:
            raise UsageError(f"this public key is already added as {existing.name!r}")
    ledger.add_key(name, public_key, print_, admin, sorted(set(apps)))
    sync_authorized_keys(server)
    return Key(name, public_key, print_, admin, tuple(sorted(set(apps))))


def remove(server: Server, name: str) -> None:
    names.key_name(name)
    if not server.ledger.delete_key(name):
        raise UsageError(f"no key named {name!r} (see `gitdeploy keys`)")
    sync_authorized_keys(server)

"""Real OS users for tests that need a non-root deploy user (systemd --user, sshd)."""

from __future__ import annotations

import os
import pwd
import subprocess

from tests.support import unavailable


def ensure_user(name: str, home: str | None = None) -> pwd.struct_passwd:
    """Create (once) a system user with a home directory and an unlocked, passwordless login."""
    if os.geteuid() != 0:
        unavailable(f"creating OS user {name!r} needs root")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    argv = ["useradd", "--create-home", "--shell", "/bin/sh"]
    if home:
        argv += ["--home-dir", home]
    subprocess.run([*argv, name], check=True, timeout=30)
    # useradd leaves the account locked ('!'), which sshd refuses even for key logins.
    subprocess.run(["usermod", "-p", "*", name], check=True, timeout=30)
    return pwd.getpwnam(name)

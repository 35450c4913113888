"""`gitdeploy setup`: make this machine a gitdeploy server, or say how (when not root).

As root it creates the deploy user (key logins only), its server root (0700), adds the first
admin key, and enables lingering so the user's systemd units run without a login session.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from gitdeploy.errors import GitdeployError, UsageError
from gitdeploy.model import names
from gitdeploy.resources import gitdeploy_command

_USER = names.KEY_NAME  # a conservative pattern for the user name too


def _run(argv: list[str], account: pwd.struct_passwd | None = None,
         stdin: str | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run argv (as ``account`` when given: its uid, gid and a minimal environment)."""
    if account is None:
        return subprocess.run(argv, capture_output=True, timeout=120, check=False)
    env = {"HOME": account.pw_dir, "USER": account.pw_name, "LOGNAME": account.pw_name,
           "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    return subprocess.run(argv, capture_output=True, timeout=120, check=False,
                          input=stdin.encode() if stdin is not None else None,
                          user=account.pw_uid, group=account.pw_gid, extra_groups=[], env=env,
                          cwd=account.pw_dir)


def _account(user: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(user)
    except KeyError:
        return None


def steps(user: str) -> list[str]:
    me = " ".join(gitdeploy_command())
    return [
        f"useradd --create-home --shell /bin/sh {user} && usermod -p '*' {user}",
        f"runuser -u {user} -- {me} keys:add admin --admin < admin.pub",
        f"loginctl enable-linger {user}    # user systemd units run without a login",
        f"then, on your machine: git remote add deploy {user}@HOST:APP && git push deploy main",
    ]


def setup(user: str, root: Path | None, admin_key: str | None,
          say: Callable[[str], None]) -> None:
    if not _USER.fullmatch(user) or user.startswith("-"):
        raise UsageError(f"invalid user name {user[:40]!r}")
    if os.geteuid() != 0:
        say("Not root: nothing was changed. As root, run `gitdeploy setup`, or these steps:")
        for line in steps(user):
            say(f"  {line}")
        return
    account = _account(user)
    if account is not None:
        say(f"User {user} exists")
    else:
        for argv in (["useradd", "--create-home", "--shell", "/bin/sh", user],
                     ["usermod", "-p", "*", user]):  # unlocked for key logins, no password
            done = _run(argv)
            if done.returncode != 0:
                raise GitdeployError(f"{argv[0]} failed: {done.stderr.decode().strip()}")
        account = pwd.getpwnam(user)
        say(f"Created user {user} (ssh key logins only)")
    root = root or Path(account.pw_dir) / ".gitdeploy"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chown(root, account.pw_uid, account.pw_gid)
    os.chmod(root, 0o700)
    say(f"Server root {root} (owned by {user}, mode 0700)")
    check = _run([*gitdeploy_command(), "--version"], account)
    if check.returncode != 0:
        raise GitdeployError(f"{user} cannot run {gitdeploy_command()[0]}: install gitdeploy "
                             "where every user can read it (e.g. a venv in /opt/gitdeploy)")
    if admin_key:
        done = _run([*gitdeploy_command(), "--root", str(root), "keys:add", "admin", "--admin"],
                    account, stdin=admin_key)
        if done.returncode != 0:
            raise UsageError(done.stderr.decode().strip().removeprefix("error: "))
        say(done.stdout.decode().strip())
    else:
        say(f"No admin key given: add one with `runuser -u {user} -- "
            f"{' '.join(gitdeploy_command())} --root {root} keys:add admin --admin < KEY.pub`")
    if shutil.which("loginctl"):
        done = _run(["loginctl", "enable-linger", user])
        say("Lingering enabled: the user's systemd units run without a login" if
            done.returncode == 0 else
            f"loginctl enable-linger failed ({done.stderr.decode().strip()}): run it once "
            "systemd-logind is up")
    else:
        say("No loginctl here: enable lingering for the user where systemd runs")
    say(f"Next, on your machine: git remote add deploy {user}@HOST:APP && git push deploy main")

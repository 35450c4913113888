"""`gitdeploy setup`: make this machine a gitdeploy server, or say how (when not root).

As root it creates the deploy user (key logins only), its server root (0700), adds the first
admin key, and enables lingering so the user's systemd units run without a login session.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from gitdeploy.access import frontdoor_setup
from gitdeploy.appconfig.buildenv import network_settings
from gitdeploy.errors import GitdeployError, UsageError
from gitdeploy.model import names
from gitdeploy.resources import gitdeploy_command
from gitdeploy.sandbox import check

_USER = names.KEY_NAME  # a conservative pattern for the user name too


def _run(argv: list[str], account: pwd.struct_passwd | None = None,
         stdin: str | None = None,
         extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run argv (as ``account`` when given: its uid, gid and a minimal environment)."""
    if account is None:
        return subprocess.run(argv, capture_output=True, timeout=120, check=False)
    env = {"HOME": account.pw_dir, "USER": account.pw_name, "LOGNAME": account.pw_name,
           "PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(extra_env or {})}
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
        "apt-get install bubblewrap    # every app's code runs in its own sandbox",
        f"runuser -u {user} -- {me} keys:add admin --admin < admin.pub",
        f"loginctl enable-linger {user}    # user systemd units run without a login",
        f"then, on your machine: git remote add deploy {user}@HOST:APP && git push deploy main",
    ]


def unreadable_by_others(path: Path) -> str | None:
    """Why a user other than root could not use ``path`` (None: it can): the first
    directory on its way that others may not enter, or the file itself not readable."""
    path = Path(os.path.realpath(path))
    for directory in reversed(path.parents):
        if not os.stat(directory).st_mode & stat.S_IXOTH:
            return f"{directory} is not readable by other users (mode {_mode(directory)})"
    if not os.stat(path).st_mode & (stat.S_IXOTH if path.is_dir() else stat.S_IROTH):
        return f"{path} is not readable by other users (mode {_mode(path)})"
    return None


def _mode(path: Path) -> str:
    return f"{stat.S_IMODE(os.stat(path).st_mode):04o}"


def check_installation() -> None:
    """The deploy user runs gitdeploy from this installation: its script, the interpreter,
    the package and the standard library must be reachable by another user."""
    import gitdeploy

    needed = [Path(gitdeploy_command()[0]), Path(sys.executable),
              Path(gitdeploy.__file__).parent, Path(os.__file__)]
    for path in needed:
        why = unreadable_by_others(path)
        if why is not None:
            raise GitdeployError(
                f"the deploy user could not run gitdeploy: {why}. Install gitdeploy where "
                "every user can read it (e.g. `/usr/bin/python3 -m venv /opt/gitdeploy && "
                "/opt/gitdeploy/bin/pip install gitdeploy`) and run its `gitdeploy setup`; "
                "nothing was changed")


def _sandbox(account: pwd.struct_passwd, say: Callable[[str], None]) -> None:
    """bubblewrap installed (apt), then tried as the deploy user: releases fail closed with
    the same sentence if it cannot make a sandbox."""
    if shutil.which("bwrap") is None and shutil.which("apt-get") is not None:
        try:
            done = subprocess.run(["apt-get", "install", "-y", "-q", "bubblewrap"],
                                  capture_output=True, timeout=600, check=False)
        except subprocess.TimeoutExpired:
            done = None
        if done is None or done.returncode != 0:
            say("apt-get install bubblewrap failed: install it before the first push")
        else:
            say("Installed bubblewrap: every app's code runs in its own sandbox")
    if shutil.which("bwrap") is None:
        say(check.NOT_INSTALLED.replace("app code cannot be sandboxed", "Releases will fail"))
        return
    tried = _run(check.probe_argv(), account)
    problem = check.explain(tried.returncode, tried.stderr.decode(errors="replace"))
    say(f"Releases will fail until this is fixed: {problem}" if problem else
        f"Sandbox checked: {account.pw_name} can run app code in bubblewrap")


def _network_settings(account: pwd.struct_passwd, root: Path,
                      say: Callable[[str], None]) -> None:
    """This shell's proxies and CA bundles, stored for builds: a push over ssh runs with
    sshd's environment, which has none of them. Passed in the environment, never in argv."""
    found = network_settings(os.environ, {})
    if not found:
        return
    done = _run([*gitdeploy_command(), "--root", str(root), "builds:env:set",
                 "--from-environment"], account, extra_env=found)
    if done.returncode != 0:
        raise GitdeployError(done.stderr.decode().strip().removeprefix("error: "))
    say(f"Builds reach the package registries with this shell's {', '.join(sorted(found))} "
        "(`gitdeploy builds:env` shows them)")


def _front_door(account: pwd.struct_passwd, root: Path, domain: str | None,
                say: Callable[[str], None]) -> None:
    """nginx in front of the deploy user's apps, then turned on in its settings."""
    frontdoor_setup.install(account.pw_name, root, say)
    settings = ["proxy=nginx", *([f"domain={domain}"] if domain else [])]
    done = _run([*gitdeploy_command(), "--root", str(root), "settings:set", *settings],
                account)
    if done.returncode != 0:
        raise GitdeployError(done.stderr.decode().strip().removeprefix("error: "))
    say("The front door is on" + (f": every app answers on APP.{domain}" if domain else
                                  " (add domains: gitdeploy domains:add -a APP HOST)"))


def admin_key_name(key: str, name: str | None) -> str:
    """The first admin key's name: ``name``, else the key's comment made a valid name (an
    e-mail-like ``alice@laptop`` is one), else ``admin``."""
    if name is not None:
        return names.key_name(name)
    words = key.strip().split(None, 2)
    comment = words[2].strip() if len(words) == 3 else ""
    cleaned = re.sub(r"[^A-Za-z0-9._@-]+", "-", comment).strip("-.")[:64]
    return cleaned if cleaned and names.KEY_NAME.fullmatch(cleaned) else "admin"


def setup(user: str, root: Path | None, admin_key: str | None,
          say: Callable[[str], None], admin_name: str | None = None,
          domain: str | None = None) -> None:
    if not _USER.fullmatch(user) or user.startswith("-"):
        raise UsageError(f"invalid user name {user[:40]!r}")
    if os.geteuid() != 0:
        say("Not root: nothing was changed. As root, run `gitdeploy setup`, or these steps:")
        for line in steps(user):
            say(f"  {line}")
        return
    key_name = admin_key_name(admin_key, admin_name) if admin_key else None
    check_installation()  # before the user or any file is made
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
    version = _run([*gitdeploy_command(), "--version"], account)
    if version.returncode != 0:
        raise GitdeployError(f"{user} cannot run {gitdeploy_command()[0]}: install gitdeploy "
                             "where every user can read it (e.g. a venv in /opt/gitdeploy)")
    _sandbox(account, say)
    _network_settings(account, root, say)
    _front_door(account, root, domain, say)
    if admin_key and key_name:
        done = _run([*gitdeploy_command(), "--root", str(root), "keys:add", key_name, "--admin"],
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

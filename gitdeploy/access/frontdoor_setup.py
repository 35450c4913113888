"""What ``setup`` (as root) installs so the deploy user's front door config is loaded and
reloaded by the system nginx, without any sudo rule:

* nginx itself (apt), if missing;
* ``/etc/nginx/conf.d/gitdeploy-USER.conf``: includes ROOT/nginx/gitdeploy*.conf (nothing
  until the deploy user turns the front door on);
* Debian's default site disabled: gitdeploy's own default server answers unknown hosts 404;
* a root-owned path unit, ``gitdeploy-nginx-USER.path``, that runs ``nginx -t`` and then
  ``systemctl reload nginx`` when gitdeploy touches ROOT/nginx/reload.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from gitdeploy.errors import GitdeployError
from gitdeploy.resources import unit_template

NGINX_CONF_D = Path("/etc/nginx/conf.d")
DEFAULT_SITE = Path("/etc/nginx/sites-enabled/default")
SYSTEM_UNITS = Path("/etc/systemd/system")


def _nginx() -> str | None:
    return shutil.which("nginx", path="/usr/sbin:/usr/local/sbin:/usr/bin")


def _install_nginx(say: Callable[[str], None]) -> str:
    found = _nginx()
    if found is not None:
        return found
    if shutil.which("apt-get") is None:
        raise GitdeployError("nginx is not installed and there is no apt-get here: install "
                             "nginx, then run setup again")
    say("Installing nginx (apt-get install nginx)...")
    done = subprocess.run(["apt-get", "install", "-y", "-q", "nginx"], capture_output=True,
                          text=True, timeout=900, check=False,
                          env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    found = _nginx()
    if done.returncode != 0 or found is None:
        raise GitdeployError(f"apt-get install nginx failed: {done.stderr.strip()[-300:]}")
    return found


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace(f"@{key}@", value)
    return template


def install(user: str, root: Path, say: Callable[[str], None]) -> None:
    nginx = _install_nginx(say)
    NGINX_CONF_D.mkdir(parents=True, exist_ok=True)
    include = NGINX_CONF_D / f"gitdeploy-{user}.conf"
    include.write_text(f"# Written by gitdeploy setup: {user}'s front door.\n"
                       f'include "{root}/nginx/gitdeploy*.conf";\n')
    say(f"nginx includes {root}/nginx/gitdeploy*.conf ({include})")
    if DEFAULT_SITE.is_symlink():
        DEFAULT_SITE.unlink()
        say(f"Disabled Debian's default site ({DEFAULT_SITE}): unknown hosts get a 404 from "
            "gitdeploy's default server")
    trigger = root / "nginx" / "reload"
    values = {"USER": user, "TRIGGER": str(trigger), "NGINX": nginx}
    for suffix in ("path", "service"):
        text = _fill(unit_template(f"nginx-reload.{suffix}.in"), values)
        (SYSTEM_UNITS / f"gitdeploy-nginx-{user}.{suffix}").write_text(text)
    say(f"Installed gitdeploy-nginx-{user}.path: nginx reloads when {trigger} changes")
    if not Path("/run/systemd/system").is_dir():
        say("systemd is not running here: start nginx and enable "
            f"gitdeploy-nginx-{user}.path where it runs")
        return
    for argv in (["systemctl", "daemon-reload"],
                 ["systemctl", "enable", "--now", f"gitdeploy-nginx-{user}.path"],
                 ["systemctl", "enable", "--now", "nginx.service"]):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            say(f"{' '.join(argv)} failed: {done.stderr.strip()}")

"""`gitdeploy setup` as root: it checks what it needs before it changes anything."""

from __future__ import annotations

import os
import pwd
import site
import subprocess
from pathlib import Path

import pytest

from tests.support import unavailable


def test_setup_from_a_venv_the_deploy_user_cannot_read_changes_nothing(
        tmp_path: Path) -> None:
    if os.geteuid() != 0:
        unavailable("setup creates a user: it needs root")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    venv = private / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    packages = next(venv.glob("lib/python3*/site-packages"))
    ours = [p for p in site.getsitepackages() if Path(p, "gitdeploy").exists()
            or list(Path(p).glob("*gitdeploy*"))]
    (packages / "ours.pth").write_text("\n".join([*ours, str(Path.cwd())]) + "\n")
    (venv / "bin" / "gitdeploy").write_text(
        f"#!{venv}/bin/python\nimport sys\nfrom gitdeploy.cli.main import main\n"
        "sys.exit(main())\n")
    (venv / "bin" / "gitdeploy").chmod(0o755)
    user = "gdsetup16"
    with pytest.raises(KeyError):
        pwd.getpwnam(user)
    done = subprocess.run([str(venv / "bin" / "gitdeploy"), "setup", "--user", user],
                          capture_output=True, text=True, timeout=120, check=False)
    try:
        assert done.returncode == 1, done
        assert "Traceback" not in done.stderr
        assert "is not readable by other users (mode 0700)" in done.stderr
        assert "nothing was changed" in done.stderr
        with pytest.raises(KeyError):
            pwd.getpwnam(user)
    finally:
        subprocess.run(["userdel", "-r", user], capture_output=True, timeout=60, check=False)

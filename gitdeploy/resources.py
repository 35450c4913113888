"""Files shipped with gitdeploy (the hook shims, the systemd unit templates) and how to start
gitdeploy itself from a hook or a key's forced command.

Installed, they are the packages ``gitdeploy._hooks`` and ``gitdeploy._units`` (mapped from
the repository's top-level ``hooks/`` and ``systemd/``); from a source checkout or an editable
install they are read from those directories directly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_SOURCE = Path(__file__).resolve().parent.parent


def _read(package: str, directory: str, name: str) -> str:
    from importlib import resources  # ~5 ms: only app creation and unit rendering read these

    try:
        return (resources.files(package) / name).read_text()
    except (ModuleNotFoundError, FileNotFoundError, TypeError):
        return (_SOURCE / directory / name).read_text()


HOOKS = ("proc-receive", "post-receive")


def hook_template(name: str = "post-receive") -> str:
    return _read("gitdeploy._hooks", "hooks", name)


def unit_template(name: str) -> str:
    return _read("gitdeploy._units", "systemd", name)


def gitdeploy_command() -> list[str]:
    """How hooks and workers start gitdeploy: by absolute path, so a bare PATH works."""
    script = Path(sys.executable).with_name("gitdeploy")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "gitdeploy"]

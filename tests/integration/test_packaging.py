"""The wheel users install carries the hook shim and unit templates, and finds them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wheel_ships_and_loads_its_templates(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp_path), str(REPO)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("gitdeploy-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for expected in ("gitdeploy/_hooks/post-receive", "gitdeploy/_hooks/proc-receive",
                     "gitdeploy/_units/process.service.in",
                     "gitdeploy/_units/app.target.in"):
        assert expected in names
    modules = {str(path.relative_to(REPO)) for path in (REPO / "gitdeploy").rglob("*.py")}
    assert modules - set(names) == set(), "modules missing from the wheel (setup.cfg packages)"
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    # -S: no site-packages, so neither the source tree nor an editable install can help.
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import gitdeploy.resources as r; "
             "assert r._SOURCE == __import__('pathlib').Path(sys.argv[1]); "
             "print(len(r.hook_template()), len(r.unit_template('process.service.in')))")
    done = subprocess.run([sys.executable, "-S", "-c", probe, str(unpacked)],
                          capture_output=True, text=True, timeout=60, check=True)
    hook, unit = map(int, done.stdout.split())
    assert hook > 100 and unit > 300

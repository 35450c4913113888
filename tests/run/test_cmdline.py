from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
from gitdeploy.run.cmdline import set_cmdline
ok = set_cmdline(["gitdeploy", "worker", "app", "v3"])
print(ok, flush=True)
sys.stdin.read()
"""


def test_set_cmdline_is_what_others_read() -> None:
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, "API_TOKEN=tok-5e3cr3t-value"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "True\n"
        seen = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    finally:
        proc.communicate("", timeout=10)
    assert seen.rstrip(b"\0") == b"gitdeploy\0worker\0app\0v3"
    assert b"tok-5e3cr3t-value" not in seen


def test_a_title_longer_than_the_original_is_cut() -> None:
    script = SCRIPT.replace('["gitdeploy", "worker", "app", "v3"]', '["x" * 10000]')
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "True\n"
        seen = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    finally:
        proc.communicate("", timeout=10)
    assert set(seen.rstrip(b"\0")) == {ord("x")} and seen.endswith(b"\0")

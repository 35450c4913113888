"""The runner in the app's sandbox (bubblewrap), with real processes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gitdeploy.run.runner import run_command
from gitdeploy.sandbox.bwrap import Sandbox

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin"}


def box(tmp_path: Path, enabled: bool = True) -> Sandbox:
    for name in ("app", "data"):
        (tmp_path / name).mkdir(exist_ok=True)
    return Sandbox(files=tmp_path / "app", data=tmp_path / "data", enabled=enabled)


def run(command: str, tmp_path: Path, timeout: float = 20, grace: float = 1,
        enabled: bool = True) -> tuple:
    lines: list[str] = []
    result = run_command(command, sandbox=box(tmp_path, enabled), env=ENV, timeout=timeout,
                         kill_grace=grace, on_line=lines.append)
    return result, lines


def running(command_line: str) -> list[int]:
    return [int(pid) for pid in os.listdir("/proc")
            if pid.isdigit() and _cmdline(int(pid)) == command_line]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def wait_dead(pid: int, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(
    ("command", "exit_code", "signal", "text"),
    [
        ("exit 0", 0, None, "exited with status 0"),
        ("exit 3", 3, None, "exited with status 3"),
        ("kill -9 $$", None, 9, "was killed by signal SIGKILL"),
        ("kill -TERM $$", None, 15, "was killed by signal SIGTERM"),
        ("/nonexistent/binary", 127, None, "exited with status 127"),
    ],
)
def test_outcomes(tmp_path: Path, command: str, exit_code: int | None, signal: int | None,
                  text: str) -> None:
    result, _ = run(command, tmp_path)
    assert (result.exit_code, result.signal, result.timed_out) == (exit_code, signal, False)
    assert result.describe() == text


def test_output_merged_in_order_and_cwd_env(tmp_path: Path) -> None:
    result, lines = run("echo out; echo err >&2; pwd; echo $PATH", tmp_path)
    assert result.ok
    assert lines == ["out", "err", "/app", ENV["PATH"]]


def test_without_a_sandbox_it_runs_in_the_release_on_the_host(tmp_path: Path) -> None:
    """The operator's shared-trust mode: the same command, on the host."""
    result, lines = run("pwd; test -d /proc/1 && echo host", tmp_path, enabled=False)
    assert result.ok and lines == [str(tmp_path / "app"), "host"]
    assert run("kill -TERM $$", tmp_path, enabled=False)[0].signal == 15


def test_timeout_stops_what_it_started_and_kills_what_ignores_term(tmp_path: Path) -> None:
    started = time.monotonic()
    result, _ = run("trap '' TERM; (trap '' TERM; sleep 1001) & wait", tmp_path, timeout=1,
                    grace=1)
    assert result.timed_out and not result.ok and result.describe() == "timed out"
    assert time.monotonic() - started < 6
    assert running("sleep 1001") == []


def test_timeout_sends_sigterm_first(tmp_path: Path) -> None:
    result, lines = run("trap 'echo got TERM; exit 0' TERM; sleep 100 & wait", tmp_path,
                        timeout=1, grace=5)
    assert result.timed_out and "got TERM" in lines


@pytest.mark.parametrize(
    "leftover",
    [
        "sleep 100 &",
        "(sleep 100 &)",
        "setsid sh -c 'sleep 100' </dev/null >/dev/null 2>&1 &",
        "nohup sleep 100 >/dev/null 2>&1 &",
    ],
)
def test_nothing_outlives_the_command(tmp_path: Path, leftover: str) -> None:
    result, _ = run(f"{leftover.replace('100', '101')}\necho started", tmp_path, timeout=10)
    assert result.ok
    assert running("sleep 101") == []


def test_daemon_holding_the_pipe_does_not_hang_the_reader(tmp_path: Path) -> None:
    started = time.monotonic()
    result, lines = run("setsid sh -c 'echo daemon; exec sleep 100' & sleep 0.2; echo done",
                        tmp_path)
    assert result.ok and "done" in lines
    assert time.monotonic() - started < 5


def test_a_megabyte_line_streams(tmp_path: Path) -> None:
    result, lines = run("head -c 1000000 /dev/zero | tr '\\0' x", tmp_path)
    assert result.ok
    assert sum(len(line) for line in lines) == 1_000_000


def test_a_background_process_started_on_the_way_out_is_stopped_at_once(tmp_path: Path) -> None:
    """A process that appears as the command ends (here: started by a subshell that ignored
    SIGTERM; in the wild, `(sleep N &)` racing the command's end) must be stopped too, not
    waited for until the grace time ends (or missed)."""
    for attempt in range(3):
        marker = f"{4240 + attempt}"
        started = time.monotonic()
        late = f"trap '' TERM; sleep 0.5; trap - TERM; sleep {marker} &"
        result, lines = run(f"sh -c \"{late}\" & echo started", tmp_path, grace=30)
        assert result.ok and lines == ["started"]
        assert time.monotonic() - started < 15, "the runner waited out the grace time"
        assert running(f"sleep {marker}") == []


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return ""

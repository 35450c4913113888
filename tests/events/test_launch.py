"""A worker that crashes outside its own handling: one line for the pusher, the traceback in
the operational log."""

from __future__ import annotations

import os
from pathlib import Path

from gitdeploy.events import launch
from gitdeploy.events.apps import create_app
from gitdeploy.store.server import Server


def test_a_crash_is_one_line_in_the_release_log_and_a_traceback_in_the_oplog(
        tmp_path: Path) -> None:
    server = Server(tmp_path / "root")
    create_app(server, "app")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # like the forked worker: stderr is the release log
        os.dup2(write_end, 2)
        try:
            raise RuntimeError("boom")
        except RuntimeError as exc:
            launch._report_crash(server, exc)
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    said = os.read(read_end, 65536).decode()
    os.close(read_end)
    assert said == (" !     internal error in the worker (RuntimeError: boom); "
                    f"details in {server.layout.oplog}\n")
    logged = server.layout.oplog.read_text()
    assert '"event": "worker.crash"' in logged and "Traceback" in logged
    server.close()

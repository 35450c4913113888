"""The operational log: JSON lines under ROOT/log, written with structlog.

structlog takes ~85 ms to import (it pulls in asyncio), so a background thread imports and
configures it while the deploy goes on; events are queued until it is ready. Every string is
passed through the masker of the app at hand, so secrets never reach this file.
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
import traceback
from pathlib import Path
from typing import Any

from gitdeploy.output import Masker

_queue: queue.SimpleQueue[tuple[str, dict[str, Any]] | None] = queue.SimpleQueue()
_thread: threading.Thread | None = None
_masker = Masker()


def set_masker(masker: Masker) -> None:
    global _masker
    _masker = masker


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return _masker.mask(value)
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


def _writer(path: Path) -> None:
    import structlog

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", buffering=1) as handle:
        logger = structlog.wrap_logger(
            structlog.WriteLogger(handle),
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.JSONRenderer(sort_keys=True),
            ],
        )
        while (item := _queue.get()) is not None:
            level, event = item
            getattr(logger, level)(**event)


def start(path: Path) -> None:
    """Begin logging to ``path`` (once per process)."""
    global _thread
    if _thread is None:
        _thread = threading.Thread(target=_writer, args=(path,), name="oplog", daemon=True)
        _thread.start()
        atexit.register(flush)


def log(event: str, level: str = "info", *, exc_info: bool = False, **fields: Any) -> None:
    if _thread is not None:
        if exc_info:  # formatted here: the writer thread does not see this exception
            fields["exception"] = traceback.format_exc()
        _queue.put((level, {"event": event, "pid": os.getpid(), **_mask(fields)}))


def flush(timeout: float = 5.0) -> None:
    """Write what is queued and stop the writer (at exit)."""
    global _thread
    if _thread is not None:
        _queue.put(None)
        _thread.join(timeout)
        _thread = None

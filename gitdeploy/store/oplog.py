"""The operational log: JSON lines under ROOT/log, written with structlog.

``oplog.bind(app=..., version=...)`` gives a logger with those fields bound once, as
structlog's ``bind`` does; its events go through a processor chain whose masking step runs
every string through the current app's masker and the generic secret patterns, so no path
(a CLI crash's argv included) writes a secret. structlog takes ~85 ms to import (it pulls in
asyncio): a background thread imports and configures it while the deploy goes on, and
events wait in a queue until it is ready.
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
import traceback
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from gitdeploy.appconfig.masking import Masker, mask_patterns

Event = tuple[str, dict[str, Any], str, dict[str, Any]]
_queue: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
_thread: threading.Thread | None = None
_masker = Masker()


def set_masker(masker: Masker) -> None:
    """The config secrets of the app at hand, masked from here on."""
    global _masker
    _masker = masker


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_patterns(_masker.mask(value))
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


def mask_secrets(logger: object, method: str, event_dict: MutableMapping[str, Any]
                 ) -> MutableMapping[str, Any]:
    """A structlog processor: every string of the event, masked."""
    return {key: _mask(value) for key, value in event_dict.items()}


def _writer(path: Path) -> None:
    import structlog

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", buffering=1) as handle:
        root = structlog.wrap_logger(
            structlog.WriteLogger(handle),
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                mask_secrets,
                structlog.processors.JSONRenderer(sort_keys=True),
            ],
        )
        loggers: dict[tuple[tuple[str, Any], ...], Any] = {}
        while (item := _queue.get()) is not None:
            level, bound, event, fields = item
            key = tuple(sorted(bound.items()))
            if key not in loggers:
                loggers[key] = root.bind(**bound)
            getattr(loggers[key], level)(event, **fields)


def start(path: Path) -> None:
    """Begin logging to ``path`` (once per process)."""
    global _thread
    if _thread is None:
        _thread = threading.Thread(target=_writer, args=(path,), name="oplog", daemon=True)
        _thread.start()
        atexit.register(flush)


class Log:
    """A logger with bound fields; events are dropped until ``start`` (e.g. in tests)."""

    def __init__(self, bound: dict[str, Any]) -> None:
        self._bound = bound

    def bind(self, **fields: Any) -> Log:
        return Log({**self._bound, **fields})

    def _emit(self, level: str, event: str, exc_info: bool, fields: dict[str, Any]) -> None:
        if _thread is not None:
            if exc_info:  # formatted here: the writer thread does not see this exception
                fields["exception"] = traceback.format_exc()
            _queue.put((level, self._bound, event, fields))

    def info(self, event: str, **fields: Any) -> None:
        self._emit("info", event, False, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit("warning", event, False, fields)

    def error(self, event: str, *, exc_info: bool = False, **fields: Any) -> None:
        self._emit("error", event, exc_info, fields)


def bind(**fields: Any) -> Log:
    return Log({"pid": os.getpid(), **fields})


def flush(timeout: float = 5.0) -> None:
    """Write what is queued and stop the writer (at exit)."""
    global _thread
    if _thread is not None:
        _queue.put(None)
        _thread.join(timeout)
        _thread = None

"""This process's command line as others see it (``ps``, ``/proc/PID/cmdline``).

Anyone on the machine may read any process's command line, so a process whose argv held a
config value (``config:set API_TOKEN=...``, and the worker forked from it, which inherits
that memory) overwrites it. The kernel reads the command line from the original argv area of
the process's stack; it is rewritten in place through ``/proc/self/mem``, as setproctitle(3)
does, padded with NUL bytes and never longer than the original.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

ARG_START_FIELD = 48  # of /proc/PID/stat (1-based, see proc(5)); ARG_END is the next one


def argv_area() -> tuple[int, int]:
    """(start, end) addresses of this process's argv strings."""
    with open("/proc/self/stat", "rb") as handle:
        fields = handle.read().rsplit(b")", 1)[1].split()  # the name may hold spaces
    index = ARG_START_FIELD - 3  # the fields after the name start at field 3
    return int(fields[index]), int(fields[index + 1])


def set_cmdline(words: Sequence[str]) -> bool:
    """Make ``words`` this process's visible command line (cut to the original's length);
    False if it could not be rewritten (then the old one still shows)."""
    try:
        start, end = argv_area()
        size = end - start
        if size <= 0:
            return False
        text = "\0".join(words).encode(errors="replace")[: size - 1]
        data = text + b"\0" * (size - len(text))
        fd = os.open("/proc/self/mem", os.O_WRONLY)
        try:
            written = os.pwrite(fd, data, start)
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        return False
    return written == size

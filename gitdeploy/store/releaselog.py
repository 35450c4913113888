"""A release's log (logs/vN.log): written line by line with secrets masked, in the text
the pusher reads (Heroku-style prefixes)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from gitdeploy.appconfig.masking import Masker

HEADER = "-----> "
INDENT = "       "
WARNING = " !     "


def header(text: str) -> str:
    return HEADER + text


def indent(text: str) -> str:
    return INDENT + text


def warning(text: str) -> str:
    return WARNING + text


def human_size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{max(1, round(size / 1e3))} kB"


class ReleaseLog:
    """logs/vN.log, written line by line (unbuffered) with secrets masked.

    A full disk must not turn a failure into a crash: lines that cannot be written are
    dropped and counted, and the release goes on to its verdict.
    """

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.masker = Masker()
        self.dropped = 0

    def write(self, text: str) -> None:
        data = "".join(self.masker.mask(line) + "\n" for line in text.split("\n")).encode()
        try:
            os.write(self.fd, data)
        except OSError:
            self.dropped += 1

    def header(self, text: str) -> None:
        self.write(header(text))

    def line(self, text: str) -> None:
        self.write(indent(text))

    def warn(self, text: str) -> None:
        self.write(warning(text))


def append_line(path: Path, text: str) -> None:
    """One more line at the end of a log that no worker writes any more (recovery)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (text + "\n").encode())
        finally:
            os.close(fd)

"""What a release says: its log (logs/vN.log, secrets masked) and the failure that ends it."""

from __future__ import annotations

import os
from pathlib import Path

from gitdeploy.output import Masker, header, indent, warning
from gitdeploy.states import Reason


def human_size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{max(1, round(size / 1e3))} kB"


class ReleaseFailure(Exception):
    def __init__(self, reason: Reason, detail: str | None = None) -> None:
        super().__init__(detail or reason.value)
        self.reason = reason
        self.detail = detail


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

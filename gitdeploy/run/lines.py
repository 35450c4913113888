"""Output bytes into text lines as they complete, safely (no unbounded buffering)."""

from __future__ import annotations

import re


class LineSplitter:
    """Turns a byte stream into text lines as they complete.

    ``\\n``, ``\\r\\n`` and a lone ``\\r`` (progress bars) end a line; bytes that are not UTF-8
    are replaced, NUL bytes too; a line longer than ``max_line`` bytes is cut into pieces so a
    command printing megabytes without a newline is still streamed and never buffered whole.
    App output reaches the pusher's terminal: colours (SGR, ``ESC [ ... m``) pass, every
    other control sequence and control character (a window title, a cleared screen, the
    cursor moved over earlier lines, OSC 52 clipboard writes) is shown as ``^[``-style text.
    """

    def __init__(self, max_line: int = 16 * 1024) -> None:
        self._buffer = bytearray()
        self._max_line = max_line

    def feed(self, data: bytes) -> list[str]:
        self._buffer += data
        lines: list[str] = []
        start = 0
        buffer = self._buffer
        for match in re.finditer(rb"\r\n|\n|\r", buffer):
            if match.group() == b"\r" and match.end() == len(buffer):
                break  # a '\r' at the end may be the first half of '\r\n'
            lines.extend(self._cut(bytes(buffer[start : match.start()])))
            start = match.end()
        del buffer[:start]
        while len(buffer) > self._max_line:
            cut = _utf8_boundary(buffer, self._max_line)
            lines.append(_decode(bytes(buffer[:cut])))
            del buffer[:cut]
        return lines

    def flush(self) -> list[str]:
        rest = bytes(self._buffer.rstrip(b"\r"))
        self._buffer.clear()
        return self._cut(rest) if rest else []

    def _cut(self, line: bytes) -> list[str]:
        pieces = []
        while len(line) > self._max_line:
            cut = _utf8_boundary(line, self._max_line)
            pieces.append(_decode(line[:cut]))
            line = line[cut:]
        pieces.append(_decode(line))
        return pieces


def _utf8_boundary(data: bytes | bytearray, limit: int) -> int:
    """The largest cut <= limit that does not split a UTF-8 sequence."""
    cut = limit
    while cut > limit - 4 and cut > 0 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut if cut > limit - 4 else limit


_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def _decode(line: bytes) -> str:
    text = line.decode("utf-8", errors="replace").replace("\0", "\ufffd")
    if not _CONTROL.search(text):
        return text
    pieces = _COLOUR.split(text)
    colours = _COLOUR.findall(text)
    shown = [_CONTROL.sub(_caret, piece) for piece in pieces]
    return "".join(piece + (colours[i] if i < len(colours) else "")
                   for i, piece in enumerate(shown))


def _caret(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"^{chr(code + 64)}" if code < 0x20 else "^?" if code == 0x7f else f"\\x{code:02x}"

"""What the pusher reads: output lines split safely, secrets masked, Heroku-style prefixes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "*****"
SECRET_NAME_PARTS = ("PASSWORD", "SECRET", "TOKEN", "KEY", "CREDENTIALS")
MIN_SECRET_LEN = 4  # shorter values would mask random characters and protect nothing
HEADER = "-----> "
INDENT = "       "
WARNING = " !     "


def header(text: str) -> str:
    return HEADER + text


def indent(text: str) -> str:
    return INDENT + text


def warning(text: str) -> str:
    return WARNING + text


def masked_url(value: str) -> str | None:
    """The URL with its password replaced by *****, or None if it holds no password."""
    try:
        parts = urlsplit(value.strip())
        password = parts.password
    except ValueError:
        return None
    if not parts.scheme or not password:
        return None
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{hostinfo}"))


def is_secret(name: str, value: str) -> bool:
    upper = name.upper()
    return any(part in upper for part in SECRET_NAME_PARTS) or masked_url(value) is not None


class Masker:
    """Replaces every secret config value (and each line of a multi-line one) in text."""

    def __init__(self, config: Mapping[str, str] | None = None) -> None:
        replacements: dict[str, str] = {}
        for name, value in (config or {}).items():
            url = masked_url(value)
            if url is not None:
                replacements[value.strip()] = url
                password = urlsplit(value.strip()).password or ""
                for form in (password, unquote(password)):
                    if len(form) >= MIN_SECRET_LEN:
                        replacements.setdefault(form, MASK)
            elif is_secret(name, value):
                for form in (value, *value.splitlines()):
                    if len(form.strip()) >= MIN_SECRET_LEN:
                        replacements.setdefault(form.strip(), MASK)
        self._replacements = replacements
        ordered = sorted(replacements, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def mask(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self._replacements[m.group(0)], text)


class LineSplitter:
    """Turns a byte stream into text lines as they complete.

    ``\\n``, ``\\r\\n`` and a lone ``\\r`` (progress bars) end a line; bytes that are not UTF-8
    are replaced, NUL bytes too; a line longer than ``max_line`` bytes is cut into pieces so a
    command printing megabytes without a newline is still streamed and never buffered whole.
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


def _decode(line: bytes) -> str:
    return line.decode("utf-8", errors="replace").replace("\0", "\ufffd")


def mask_lines(masker: Masker, lines: Iterable[str]) -> list[str]:
    return [masker.mask(line) for line in lines]

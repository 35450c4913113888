"""Which config values are secrets, and masking them in any text (logs, the pusher's terminal)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "*****"
SECRET_NAME_PARTS = ("PASSWORD", "SECRET", "TOKEN", "KEY", "CREDENTIALS")
MIN_SECRET_LEN = 4  # shorter values would mask random characters and protect nothing


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
    return _secret_name(name) or masked_url(value) is not None


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


_ASSIGNMENT = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)=(\S+)")
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)([^\s@/]+)(@)")


def mask_patterns(text: str) -> str:
    """Secrets recognisable without the app's config: ``NAME=value`` where NAME looks
    secret, and the password of any URL. For text no masker of an app has seen (a command
    line that crashed, an error from a database driver)."""
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", text)
    return _ASSIGNMENT.sub(
        lambda m: f"{m.group(1)}={MASK}" if _secret_name(m.group(1)) else m.group(0), text)


def _secret_name(name: str) -> bool:
    upper = name.upper()
    return any(part in upper for part in SECRET_NAME_PARTS)

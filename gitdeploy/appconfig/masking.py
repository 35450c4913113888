"""Which config values are secrets, and masking them in any text (logs, the pusher's terminal).

A secret is decided once, from its name and value, and knows every form in which it may turn
up in output (its lines, a URL's password, base64, URL-encoded, a Basic-auth header); the
masker is built from those, so what is masked does not depend on how a command prints it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, quote_plus, unquote, unquote_plus

MASK = "*****"
SECRET_NAME_PARTS = ("PASSWORD", "SECRET", "TOKEN", "KEY", "CREDENTIALS")
SECRET_NAME_WORDS = frozenset({"PASS", "PASSWD", "PWD", "PASSPHRASE", "DSN", "AUTH"})
MIN_SECRET_LEN = 4  # shorter values would mask random characters and protect nothing

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z][A-Za-z0-9+.-]*:)*//")


def secret_name(name: str) -> bool:
    """``DB_PASSWORD``, ``API_KEY``, ``SMTP_PASS``, ``SENTRY_DSN``, ``BASIC_AUTH``, ...; words
    are whole (``AUTHOR_NAME`` is not a secret)."""
    upper = name.upper()
    return (any(part in upper for part in SECRET_NAME_PARTS)
            or not SECRET_NAME_WORDS.isdisjoint(re.split(r"[^A-Z0-9]+", upper)))


@dataclass(frozen=True)
class UrlSecrets:
    """What is secret in a URL: its shown form, and the secret parts as written in it."""
    masked: str
    parts: tuple[str, ...]
    user: str = ""


def url_secrets(value: str) -> UrlSecrets | None:
    """The URL with its password (user:PASSWORD@, of any scheme, ``jdbc:`` prefixes too)
    and its secret query parameters (``?password=``, ``&token=``) masked; None if it holds
    none."""
    value = value.strip()
    scheme = _SCHEME.match(value)
    if scheme is None:
        return None
    head, rest = value[: scheme.end()], value[scheme.end():]
    parts: list[str] = []
    user = ""
    end = min((i for i in (rest.find(c) for c in "/?#") if i != -1), default=len(rest))
    at = rest.rfind("@", 0, end)
    if at != -1:
        user, colon, password = rest[:at].partition(":")
        if colon and password:
            parts.append(password)
            rest = f"{user}:{MASK}{rest[at:]}"
    path, question, query = rest.partition("?")
    if question:
        query = _QUERY_SECRET.sub(lambda m: _mask_query(m, parts), query)
        rest = f"{path}?{query}"
    return UrlSecrets(head + rest, tuple(parts), unquote(user)) if parts else None


_QUERY_SECRET = re.compile(r"(^|[&;])([^=&;#\s]+)=([^&;#\s]*)")


def _mask_query(match: re.Match[str], found: list[str]) -> str:
    if not match.group(3) or not secret_name(unquote_plus(match.group(2))):
        return match.group(0)
    found.append(match.group(3))
    return f"{match.group(1)}{match.group(2)}={MASK}"


def masked_url(value: str) -> str | None:
    """The URL with its password and secret query values replaced by *****, or None."""
    found = url_secrets(value)
    return found.masked if found is not None else None


NOT_SECRET = frozenset({"true", "false", "yes", "no", "on", "off", "none", "null"})


def is_secret(name: str, value: str) -> bool:
    """A secret name (unless the value is a switch: ``ENABLE_AUTH=true`` would mask every
    "true"), or a URL with a password."""
    if secret_name(name) and value.strip().lower() not in NOT_SECRET:
        return True
    return url_secrets(value) is not None


def encoded_forms(text: str) -> set[str]:
    """``text`` as it may be printed: itself, URL-encoded and decoded, base64 (standard and
    URL-safe, with and without padding)."""
    forms = {text, unquote(text), unquote_plus(text), quote(text, safe=""), quote_plus(text)}
    for plain in {text, unquote(text)}:
        encoded = base64.b64encode(plain.encode()).decode()
        for form in (encoded, encoded.replace("+", "-").replace("/", "_")):
            forms.update((form, form.rstrip("=")))
    return forms


@dataclass(frozen=True)
class Secret:
    """A config value that is secret, with each text that gives it away and what shows
    instead."""
    name: str
    value: str

    def replacements(self) -> dict[str, str]:
        found = url_secrets(self.value)
        shown: dict[str, str] = {}
        if found is not None:  # the URL stays readable: only its secret parts go
            shown[self.value.strip()] = found.masked
            for part in found.parts:
                for form in encoded_forms(part):
                    shown.setdefault(form, MASK)
            if found.user and found.parts:  # an HTTP Basic header: base64 of user:password
                basic = f"{found.user}:{unquote(found.parts[0])}".encode()
                shown.setdefault(base64.b64encode(basic).decode().rstrip("="), MASK)
        else:
            for line in (self.value, *self.value.splitlines()):
                for form in encoded_forms(line.strip()):
                    shown.setdefault(form, MASK)
        return {text: mask for text, mask in shown.items() if len(text) >= MIN_SECRET_LEN}


def secrets_of(config: Mapping[str, str]) -> list[Secret]:
    return [Secret(name, value) for name, value in config.items() if is_secret(name, value)]


class Masker:
    """Replaces every form of every secret config value in text."""

    def __init__(self, config: Mapping[str, str] | None = None,
                 secrets: Iterable[Secret] = ()) -> None:
        replacements: dict[str, str] = {}
        for secret in [*secrets_of(config or {}), *secrets]:
            for text, shown in secret.replacements().items():
                replacements.setdefault(text, shown)
        self._replacements = replacements
        ordered = sorted(replacements, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def mask(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self._replacements[m.group(0)], text)


_ASSIGNMENT = re.compile(r"(?<![?&;\w])([A-Za-z_][A-Za-z0-9_]*)=(\S+)")
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)([^\s/]+)(@)")
_URL_QUERY = re.compile(r"([?&;])([A-Za-z_][A-Za-z0-9_.-]*)=([^&;#\s'\"]+)")


def mask_patterns(text: str) -> str:
    """Secrets recognisable without the app's config: ``NAME=value`` where NAME looks
    secret, the password of any URL and its secret query parameters. For text no masker of
    an app has seen (an error from a database driver, a request line)."""
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", text)
    text = _URL_QUERY.sub(lambda m: f"{m.group(1)}{m.group(2)}={MASK}"
                          if secret_name(m.group(2)) else m.group(0), text)
    return _ASSIGNMENT.sub(
        lambda m: f"{m.group(1)}={MASK}" if secret_name(m.group(1)) else m.group(0), text)


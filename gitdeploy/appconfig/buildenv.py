"""The server's network settings a build needs to reach the package registries: proxies, CA
bundles, index and registry URLs. Pure: an environment and the stored settings in, the
variables out.

They come from the server's own environment (the process that runs the release) and from
the server setting (``builds:env:set``), which wins; they reach the build step only, never
the release command, postdeploy or processes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

NETWORK_NAMES = frozenset({
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
    "http_proxy", "https_proxy", "no_proxy", "all_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO",
})
NETWORK_PREFIXES = ("PIP_", "UV_", "npm_config_", "NPM_CONFIG_")
# Variables that name a file or directory the build must be able to read: bound read-only
# into its sandbox when they lie outside the system directories it sees anyway.
PATH_NAMES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
              "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO", "PIP_CERT", "UV_CA_BUNDLE",
              "npm_config_cafile", "NPM_CONFIG_CAFILE")
VISIBLE = ("/usr/", "/etc/")
# pip's index settings, for uv (which reads its own names only) when uv's are not set.
_FOR_UV = {"PIP_INDEX_URL": "UV_INDEX_URL", "PIP_EXTRA_INDEX_URL": "UV_EXTRA_INDEX_URL"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_network_setting(name: str) -> bool:
    return name in NETWORK_NAMES or name.startswith(NETWORK_PREFIXES)


def network_settings(environ: Mapping[str, str], stored: Mapping[str, str]) -> dict[str, str]:
    """The build's network variables: those of ``environ`` that are network settings, then
    the ``stored`` server setting over them (an empty stored value removes one)."""
    found = {name: value for name, value in environ.items() if is_network_setting(name)}
    found.update(stored)
    found = {name: value for name, value in found.items() if value}
    for pip, uv in _FOR_UV.items():
        if pip in found and uv not in found:
            found[uv] = found[pip]
    return found


def paths_to_bind(settings: Mapping[str, str]) -> list[str]:
    """The absolute paths named by certificate settings that a sandbox would not see."""
    return sorted({value for name, value in settings.items()
                   if name in PATH_NAMES and value.startswith("/")
                   and not value.startswith(VISIBLE) and ".." not in value.split("/")})


def check_name(name: str) -> str | None:
    """Why ``name`` cannot be a build network setting, or None."""
    if not _NAME.fullmatch(name):
        return f"{name!r} is not an environment variable name"
    if not is_network_setting(name):
        return (f"{name} is not a network setting (proxies, CA bundles, PIP_*, UV_*, "
                "npm_config_*): set the app's own variables with config:set")
    return None

"""Server settings and domains refuse what would reach nginx's config or a signal as
anything but what they are (exit 2, one sentence), without nginx running."""

from __future__ import annotations

import pytest

from tests.support.gd import Server


@pytest.mark.parametrize(("pair", "problem"), [
    ("proxy.address=127.0.0.1:80; access_log /tmp/pwned.log; listen 127.0.0.1",
     "proxy.address is an IP address"),
    ("proxy.http_port=\u00b2", "proxy.http_port must be a port number"),
    ("proxy.https_port=0", "proxy.https_port must be a port number"),
    ("proxy.acme_root=/var/www; return 200", "proxy.acme_root is an absolute path"),
    ("proxy.pidfile=relative.pid", "proxy.pidfile is an absolute path"),
    ("domain=*.example.com", "not a wildcard"),
    ("domain=bad_name", "invalid domain 'bad_name'"),
    ("proxy=apache", "proxy is nginx or off"),
    ("nosuch=1", "unknown setting 'nosuch'"),
    ("proxy.address", "is not NAME=VALUE"),
])
def test_a_bad_setting_is_refused(server: Server, pair: str, problem: str) -> None:
    server.gd("apps:create", "shop")
    done = server.gd("settings:set", pair, check=False)
    assert done.returncode == 2 and problem in done.stderr and "Traceback" not in done.stderr
    assert server.gd("settings", "--json").stdout.strip() == "{}"


def test_settings_are_shown_and_unset(server: Server) -> None:
    server.gd("apps:create", "shop")
    server.gd("settings:set", "proxy.address=::1", "domain=Example.COM")
    assert '"proxy.address": "[::1]"' in server.gd("settings", "--json").stdout
    server.gd("settings:unset", "proxy.address")
    assert server.gd("settings", "--json").stdout.count(":") == 1
    assert server.gd("settings:unset", "nope", check=False).returncode == 2


def test_a_key_cannot_claim_what_belongs_to_another_app(server: Server) -> None:
    server.gd("apps:create", "shop")
    server.gd("settings:set", "domain=example.com")
    for host, problem in [("blog.example.com", "the default domain of the app named blog"),
                          ("example.com", "is the server's domain"),
                          ("*.example.com", "is the server's domain"),
                          ("gitdeploy-probe.shop.com", "are gitdeploy's own")]:
        done = server.gd("domains:add", "-a", "shop", host, check=False)
        assert done.returncode == 2 and problem in done.stderr, host
    server.gd("domains:add", "-a", "shop", "shop.example.com", "x.shop.com")
    server.gd("apps:create", "blog")
    wide = server.gd("domains:add", "-a", "blog", "*.shop.com", check=False)
    assert wide.returncode == 2 and "would cover x.shop.com, a domain of shop" in wide.stderr

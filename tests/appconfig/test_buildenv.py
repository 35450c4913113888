from __future__ import annotations

from gitdeploy.appconfig.buildenv import check_name, network_settings, paths_to_bind


def test_the_servers_network_settings_and_nothing_else_pass() -> None:
    environ = {"HTTPS_PROXY": "http://proxy:3128", "no_proxy": "localhost",
               "SSL_CERT_FILE": "/etc/ssl/certs/ca.crt", "PIP_INDEX_URL": "https://idx/simple",
               "npm_config_registry": "https://npm.example", "UV_NATIVE_TLS": "1",
               "HOME": "/root", "PATH": "/root/bin", "SECRET_KEY": "x", "LD_PRELOAD": "evil.so"}
    found = network_settings(environ, {})
    assert set(found) == {"HTTPS_PROXY", "no_proxy", "SSL_CERT_FILE", "PIP_INDEX_URL",
                          "npm_config_registry", "UV_NATIVE_TLS", "UV_INDEX_URL"}
    assert found["UV_INDEX_URL"] == "https://idx/simple"  # uv reads only its own names


def test_the_stored_setting_wins_and_an_empty_one_hides() -> None:
    environ = {"HTTPS_PROXY": "http://env:3128", "HTTP_PROXY": "http://env:3128"}
    found = network_settings(environ, {"HTTPS_PROXY": "http://stored:3128", "HTTP_PROXY": ""})
    assert found == {"HTTPS_PROXY": "http://stored:3128"}
    found = network_settings({"PIP_INDEX_URL": "a", "UV_INDEX_URL": "b"}, {})
    assert found["UV_INDEX_URL"] == "b"


def test_certificate_files_outside_the_system_are_bound() -> None:
    assert paths_to_bind({"SSL_CERT_FILE": "/srv/ca/corp.pem",
                          "NODE_EXTRA_CA_CERTS": "/etc/ssl/certs/ca.crt",
                          "PIP_CERT": "relative.pem", "CURL_CA_BUNDLE": "/srv/../etc/shadow",
                          "HTTPS_PROXY": "/srv/not-a-path-setting"}) == ["/srv/ca/corp.pem"]


def test_names_a_setting_may_have() -> None:
    assert check_name("HTTPS_PROXY") is None and check_name("npm_config_cafile") is None
    assert "not a network setting" in str(check_name("DATABASE_URL"))
    assert "not an environment variable name" in str(check_name("A-B"))

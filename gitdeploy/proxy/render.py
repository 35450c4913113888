"""nginx's config for the front door, rendered from values. Pure: values in, text out.

``gitdeploy.conf`` is what the system nginx includes (in its http block): a default server
that answers unknown hosts with 404 (and refuses TLS handshakes for them), then one file per
app with its upstream and server blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

PROBE_PATH = "/.gitdeploy/release"  # answers the live route's release name, to loopback only
ACME_PATH = "/.well-known/acme-challenge/"


@dataclass(frozen=True)
class Listen:
    http_port: int = 80
    https_port: int = 443
    address: str = ""  # all addresses when empty
    acme_root: str = "/var/www/html"

    def on(self, port: int) -> str:
        return f"{self.address}:{port}" if self.address else str(port)


@dataclass(frozen=True)
class Site:
    app: str
    hosts: tuple[str, ...]
    ports: tuple[int, ...]  # the web instances nginx sends traffic to; none: 503
    release: str  # "v5": what the probe answers
    cert: str | None = None  # paths of the certificate chain and key, if the app has them
    key: str | None = None


_PROXY = """\
        proxy_pass http://{upstream};
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $gitdeploy_connection;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Port $server_port;
        proxy_set_header X-Request-Start "t=${{msec}}";
        proxy_read_timeout 60s;
"""


def quote(text: str) -> str:
    """A path or value as one nginx token."""
    if text and not any(c in text for c in " \t\n;{}\"'\\$#"):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _probe(answer: str, status: int = 200) -> list[str]:
    """The probe: which release a host reaches, and which config nginx has loaded."""
    return [f"    location = {PROBE_PATH} {{", "        allow 127.0.0.1;", "        allow ::1;",
            "        deny all;", "        default_type text/plain;",
            f'        return {status} "{answer}\\n";', "    }"]


def temp_paths(directory: str) -> str:
    """The http-level temp paths of an nginx run outside the system's (its own directory)."""
    return " ".join(f"{kind}_temp_path {quote(directory + '/' + kind)};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))


def main_config(listen: Listen, apps_dir: str, serial: str) -> str:
    """``serial`` names this version of the config: the probe answers it, so a change is
    known to be loaded when the probe says so."""
    lines = ["# Written by gitdeploy: do not edit. The system nginx includes it in http {}.",
             "map $http_upgrade $gitdeploy_connection {", "    default upgrade;", "    '' '';",
             "}"]
    lines += ["server {", f"    listen {listen.on(listen.http_port)} default_server;",
              "    server_name _;", *_probe(f"none {serial}", 404),
              "    location / {", "        return 404;", "    }", "}",
              "server {", f"    listen {listen.on(listen.https_port)} ssl default_server;",
              "    server_name _;", "    ssl_reject_handshake on;", "}"]
    lines.append(f"include {quote(apps_dir + '/*.conf')};")
    return "\n".join(lines) + "\n"


def site_config(site: Site, listen: Listen, serial: str) -> str:
    upstream = f"gitdeploy-{site.app}"
    names = " ".join(site.hosts)
    common = [f"    location {ACME_PATH} {{", f"        root {quote(listen.acme_root)};", "    }",
              *_probe(f"{site.release} {serial}")]
    if site.ports:
        serve = ["    location / {", _PROXY.format(upstream=upstream).rstrip("\n"), "    }"]
    else:
        serve = ["    location / {", "        default_type text/plain;",
                 f'        return 503 "{site.app} has no web process running\\n";', "    }"]
    lines = [f"# Written by gitdeploy for app {site.app}: rewritten by releases, domains and "
             "certs."]
    if site.ports:
        lines += [f"upstream {upstream} {{"]
        lines += [f"    server 127.0.0.1:{port} max_fails=0;" for port in site.ports]
        lines += ["    keepalive 16;", "}"]
    lines += ["server {", f"    listen {listen.on(listen.http_port)};",
              f"    server_name {names};", "    client_max_body_size 100m;", *common]
    if site.cert is not None and site.key is not None:
        lines += ["    location / {", "        return 301 https://$host$request_uri;", "    }",
                  "}", "server {", f"    listen {listen.on(listen.https_port)} ssl;",
                  f"    server_name {names};", "    client_max_body_size 100m;",
                  f"    ssl_certificate {quote(site.cert)};",
                  f"    ssl_certificate_key {quote(site.key)};",
                  "    ssl_protocols TLSv1.2 TLSv1.3;", *common]
    lines += [*serve, "}"]
    if site.cert is None:  # its names never fall to another app's TLS block (a wildcard)
        lines += ["server {", f"    listen {listen.on(listen.https_port)} ssl;",
                  f"    server_name {names};", "    ssl_reject_handshake on;", "}"]
    return "\n".join(lines) + "\n"

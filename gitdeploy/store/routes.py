"""The front door's records in the ledger: server settings, each app's domains, and which
release's web instances (on which ports) the proxy sends an app's traffic to."""

from __future__ import annotations

import json
from dataclasses import dataclass

from gitdeploy.errors import UsageError
from gitdeploy.model.release import now
from gitdeploy.store.ledger import Ledger


@dataclass(frozen=True)
class WebRoute:
    """An app's web instances that take its traffic: release vN's, from port ``port`` on."""
    release: int
    port: int
    count: int


def settings(ledger: Ledger) -> dict[str, str]:
    return dict(ledger.db.execute("SELECT name, value FROM settings ORDER BY name"))


def change_settings(ledger: Ledger, set_: dict[str, str], unset: list[str]) -> None:
    with ledger.write() as db:
        db.executemany("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) "
                       "DO UPDATE SET value = excluded.value", set_.items())
        db.executemany("DELETE FROM settings WHERE name = ?", [(n,) for n in unset])


def domains(ledger: Ledger, app: str | None = None) -> list[tuple[str, str]]:
    """(host, app) pairs, by host; only ``app``'s if given."""
    if app is None:
        return [(r[0], r[1]) for r in ledger.db.execute(
            "SELECT host, app FROM domains ORDER BY host")]
    return [(r[0], r[1]) for r in ledger.db.execute(
        "SELECT host, app FROM domains WHERE app = ? ORDER BY host", (app,))]


def add_domains(ledger: Ledger, app: str, hosts: list[str]) -> list[str]:
    """Give ``hosts`` to ``app``; the ones it did not have yet. A host another app has is
    refused, and nothing is added."""
    with ledger.write() as db:
        owners = dict(db.execute(f"SELECT host, app FROM domains WHERE host IN "
                                 f"({','.join('?' * len(hosts))})", hosts).fetchall())
        taken = sorted(host for host, owner in owners.items() if owner != app)
        if taken:
            raise UsageError(f"{taken[0]} is a domain of {owners[taken[0]]}: remove it there "
                             "first")
        new = [host for host in dict.fromkeys(hosts) if host not in owners]
        db.executemany("INSERT INTO domains (host, app, created_at) VALUES (?, ?, ?)",
                       [(host, app, now()) for host in new])
        return new


def remove_domains(ledger: Ledger, app: str, hosts: list[str]) -> list[str]:
    """Take ``hosts`` from ``app``; those it did not have."""
    with ledger.write() as db:
        missing = [host for host in hosts if db.execute(
            "DELETE FROM domains WHERE host = ? AND app = ?", (host, app)).rowcount == 0]
        return missing


def web_route(ledger: Ledger, app: str) -> WebRoute | None:
    row = ledger.db.execute("SELECT web FROM apps WHERE name = ?", (app,)).fetchone()
    if row is None or row[0] is None:
        return None
    data = json.loads(row[0])
    return WebRoute(int(data["release"]), int(data["port"]), int(data["count"]))


def set_web_route(ledger: Ledger, app: str, route: WebRoute | None) -> None:
    value = None if route is None else json.dumps(
        {"release": route.release, "port": route.port, "count": route.count})
    with ledger.write() as db:
        db.execute("UPDATE apps SET web = ? WHERE name = ?", (value, app))

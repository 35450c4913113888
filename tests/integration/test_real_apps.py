"""The README's Django and Express apps, pushed by a real deploy user exactly as to Heroku:
built from the registries, the release phase migrating a real PostgreSQL, the web process
under `systemd --user` passing the web check and serving a page that reads the database."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_database import pg as pg  # a fixture
from tests.integration.test_processes import Web, fetch
from tests.integration.test_processes import manager as manager  # a fixture
from tests.integration.test_processes import web as web  # a fixture
from tests.support.gd import wait_for
from tests.support.pg import PgServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def database_url(pg: PgServer) -> Iterator[str]:
    """The app's own role and database, over TCP with a password, as an add-on gives."""
    name = f"shop_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    pg.create_role(name, password)
    pg.create_database(name, owner=name)
    yield pg.tcp_url(name, user=name, password=password)
    pg.drop_database(name)
    pg.psql(f'DROP ROLE IF EXISTS "{name}";')


@pytest.fixture
def app(web: Web, database_url: str) -> Web:
    web.gd("config:set", "-a", "shop", f"DATABASE_URL={database_url}")  # no code yet: no release
    if "SSL_CERT_FILE" in os.environ:  # the deploy user's own environment has no proxy's CA
        web.gd("builds:env:set", f"SSL_CERT_FILE={os.environ['SSL_CERT_FILE']}")
    return web


def push_example(web: Web, name: str, **changes: str) -> str:
    """Commit the example as the deploy user and push it; the push's output."""
    shutil.copytree(EXAMPLES / name, web.work, dirs_exist_ok=True)
    for path, text in changes.items():
        (web.work / path).write_text(text)
    web.commit({})
    return web.push().stderr


def test_the_django_example_migrates_postgres_and_gunicorn_serves_it(
        app: Web) -> None:
    pushed = push_example(app, "django-app")
    assert "Python app detected (requirements.txt)" in pushed
    assert "Applying catalog.0001_initial... OK" in pushed      # against PostgreSQL
    assert "Released v1" in pushed
    page = wait_for(lambda: fetch(app.port), 30, what="gunicorn to serve")
    assert page.startswith("v1 products: teapot css: /static/catalog/site.")  # hashed name
    ps = app.gd("ps", "-a", "shop").stdout
    assert "web.1" in ps and "active (running)" in ps
    # one changed file, the same lock: the cache serves every package, the page changes
    pushed = push_example(app, "django-app", **{
        "catalog/views.py": (EXAMPLES / "django-app/catalog/views.py").read_text().replace(
            "products:", "items:")})
    assert "Downloading" not in pushed and "No migrations to apply." in pushed
    assert wait_for(lambda: (fetch(app.port) or "").startswith("v2 items: teapot"), 30,
                    what="v2 to serve")


def test_the_express_example_runs_its_migration_script_against_postgres(
        app: Web) -> None:
    pushed = push_example(app, "express-app")
    assert "npm ci, then npm run build" in pushed
    assert "migrated: 1 release(s) recorded" in pushed
    assert wait_for(lambda: fetch(app.port), 30, what="node to serve") == "v1 releases: v1\n"
    pushed = push_example(app, "express-app", **{"VERSION": "3"})
    assert "migrated: 2 release(s) recorded" in pushed
    assert wait_for(lambda: fetch(app.port) == "v2 releases: v1,v2\n", 30, what="v2")

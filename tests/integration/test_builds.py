"""Builds like Heroku's, with real packages from the registries: a Django app (uv), an
Express app (npm), a Procfile-only app, failing installs, the cache, network settings."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.gd import AppRepo, Server

MakeApp = Callable[..., AppRepo]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(name: str) -> dict[str, str]:
    root = EXAMPLES / name
    return {str(path.relative_to(root)): path.read_text()
            for path in sorted(root.rglob("*")) if path.is_file()}


def release_dir(server: Server, app: str, version: int) -> Path:
    return server.root / "apps" / app / "releases" / f"v{version}"


def test_a_django_app_builds_with_uv_and_runs_its_heroku_procfile_unchanged(
        make_app: MakeApp, server: Server) -> None:
    files = example("django-app")
    files["Procfile"] = ("release: python manage.py migrate --noinput && which gunicorn "
                         "&& head -1 .venv/bin/gunicorn\n" + files["Procfile"].split("\n", 1)[1])
    repo = make_app("shop", files)
    pushed = repo.push().stderr
    assert "Python app detected (requirements.txt): uv pip install -r requirements.txt" in pushed
    assert "Creating .venv with /usr/bin/python3.11" in pushed  # .python-version honoured
    assert "1 static file copied to '/app/staticfiles'" in pushed  # collectstatic
    assert "Applying catalog.0001_initial... OK" in pushed
    assert "/app/.venv/bin/gunicorn" in pushed and "#!/app/.venv/bin/python" in pushed
    assert server.release("shop", 1)["status"] == "succeeded"
    files_v1 = release_dir(server, "shop", 1)
    django = next((files_v1 / ".venv/lib").glob("python3*/site-packages/django/__init__.py"))
    assert django.stat().st_nlink >= 2  # a hard link into the app's build cache
    # a second push: the same packages, from the cache, no download
    repo.commit({"VERSION": "2"})
    again = repo.push().stderr
    assert "Downloading" not in again and "Installed 9 packages" in again
    assert "(unchanged: the last build's versions, from the cache)" in again
    shutil.rmtree(server.root / "apps/shop/build/cache/uv")  # the pins outlive their packages
    repo.commit({"VERSION": "3"})
    again = repo.push().stderr
    assert "The cache lacks some of them: resolving requirements.txt again" in again
    assert "Installed 9 packages" in again and server.release("shop", 3)["status"] == "succeeded"
    ran = server.gd("run", "-a", "shop", "--", "python", "-c",
                    "import django, sys; print(sys.prefix, django.__version__[:1])").stdout
    assert ran.startswith("/app/.venv 5")


def test_an_express_app_builds_with_npm_ci_and_its_build_script(
        make_app: MakeApp, server: Server) -> None:
    files = example("express-app")
    files["Procfile"] = ("release: node -e \"console.log('express', "
                         "require('express/package.json').version)\" && cat public/built.txt\n")
    repo = make_app("api", files)
    pushed = repo.push().stderr
    assert "Node app detected (package.json): npm ci, then npm run build" in pushed
    assert "express 4." in pushed and "built with node v" in pushed
    assert (release_dir(server, "api", 1) / "node_modules/express").is_dir()


def test_a_procfile_only_app_builds_nothing(make_app: MakeApp, server: Server) -> None:
    repo = make_app("plain", {"Procfile": "release: echo path=$PATH\n"})
    pushed = repo.push().stderr
    assert "No build: no requirements.txt, pyproject.toml, uv.lock or package.json" in pushed
    assert "path=/app/.venv/bin:/app/node_modules/.bin:/usr/local/bin" in pushed


def test_a_failed_install_fails_the_build_and_does_not_poison_the_cache(
        make_app: MakeApp, server: Server) -> None:
    repo = make_app("bad", {"requirements.txt": "sqlparse==0.5.1\n"
                                                "no-such-package-gitdeploy-test==1.0\n",
                            "Procfile": "release: echo release ran\n"})
    pushed = repo.push(fails=True).stderr
    release = server.release("bad", 1)
    assert (release["status"], release["reason"]) == ("failed", "build failed")
    assert "uv pip exited with status 1; its last lines:" in pushed
    assert "no-such-package-gitdeploy-test" in pushed and "release ran" not in pushed
    assert server.current("bad") is None
    repo.commit({"requirements.txt": "sqlparse==0.5.1\n"})
    assert "release ran" in repo.push().stderr
    repo = make_app("badnode", {"package.json": '{"dependencies": {"no-such-pkg-gd-test-x": "1"}}',
                                "Procfile": "release: echo release ran\n"})
    pushed = repo.push(fails=True).stderr
    assert "npm install exited with status 1" in pushed and "404" in pushed
    assert server.release("badnode", 1)["reason"] == "build failed"


@pytest.mark.parametrize(("files", "problem"), [
    ({"requirements.txt": "", "runtime.txt": "python-3.4.1"},
     "runtime.txt asks for Python 3.4, which is not installed on this server; installed: 3.11"),
    ({"package.json": '{"engines": {"node": ">=99"}}'},
     "package.json asks for node >=99; this server has node v"),
    ({"package.json": "{nope"}, "package.json is not valid JSON"),
])
def test_a_build_the_server_cannot_make_says_why(make_app: MakeApp, server: Server,
                                                 files: dict[str, str], problem: str) -> None:
    repo = make_app("app", {**files, "Procfile": "release: echo release ran\n"})
    pushed = repo.push(fails=True).stderr
    assert problem in pushed and "release ran" not in pushed


def test_network_settings_reach_the_build_only(make_app: MakeApp, server: Server) -> None:
    server.env = {**server.env, "HTTPS_PROXY": "", "npm_config_loglevel": "warn"}
    server.gd("builds:env:set", "UV_CONCURRENT_DOWNLOADS=3", "HTTP_PROXY=")
    repo = make_app("net", {"gitdeploy.yml": "builder: none\nbuild: echo build "
                            "sees=${npm_config_loglevel}/${UV_CONCURRENT_DOWNLOADS}/"
                            "${SSL_CERT_FILE:-none}\n",
                            "Procfile": "release: echo release sees=${npm_config_loglevel:-}/"
                                        "${UV_CONCURRENT_DOWNLOADS:-}\n"})
    pushed = repo.push(env=server.env).stderr
    cert = os.environ.get("SSL_CERT_FILE", "none")
    assert f"build sees=warn/3/{cert}" in pushed
    assert "release sees=/" in pushed
    shown = server.gd("builds:env").stdout
    assert "UV_CONCURRENT_DOWNLOADS: 3 (server setting)" in " ".join(shown.split())
    bad = server.gd("builds:env:set", "DATABASE_URL=x", check=False)
    assert bad.returncode == 2 and "not a network setting" in bad.stderr
    empty = server.gd("builds:env:set", check=False)
    assert empty.returncode == 2 and "name at least one NAME=VALUE" in empty.stderr


def test_the_cache_is_purged_on_request_and_unseen_by_the_app(
        make_app: MakeApp, server: Server) -> None:
    repo = make_app("cached", {"requirements.txt": "sqlparse==0.5.1\n",
                               "Procfile": "release: ls /cache 2>&1 | head -1\n"})
    assert "No such file or directory" in repo.push().stderr
    cache = server.root / "apps/cached/build/cache/uv"
    assert any(cache.iterdir())
    purged = server.gd("builds:cache:purge", "-a", "cached").stdout
    assert purged.startswith("Purged cached's build cache (") and not cache.exists()
    missing = server.gd("builds:cache:purge", "-a", "nope", check=False)
    assert missing.returncode == 2


def test_without_the_sandbox_the_build_happens_in_the_release_directory(
        make_app: MakeApp, server: Server) -> None:
    server.env = {**server.env, "GITDEPLOY_SANDBOX": "off"}
    repo = make_app("trusted", {"requirements.txt": "gunicorn\n",
                                "Procfile": "release: which gunicorn && gunicorn --version\n"})
    pushed = repo.push(env=server.env).stderr
    venv = release_dir(server, "trusted", 1) / ".venv"
    assert f"{venv}/bin/gunicorn" in pushed and "gunicorn (version" in pushed
    assert (venv / "bin/gunicorn").read_text().startswith(f"#!{venv}/bin/python")
    assert shutil.which("gunicorn", path=str(venv / "bin"))

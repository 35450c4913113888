"""Which requirements files may install the last build's versions again, and under what name."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitdeploy.release import pins

ENV = {"UV_CACHE_DIR": "/cache/uv", "HTTPS_PROXY": "http://proxy:3128"}


@pytest.mark.parametrize("text", [
    "Django>=5.0,<6\ngunicorn>=22\n",
    "# comment\npsycopg[binary]>=3.1  # the C build\n\nrequests==2.32.3\n",
    'pywin32>=300; sys_platform == "win32"\n',
    "",
])
def test_plain_requirements_have_a_name(text: str) -> None:
    assert pins.key(text, "/usr/bin/python3", ENV) is not None


@pytest.mark.parametrize("text", [
    "-r base.txt\n", "--index-url https://example.com\nDjango\n", "-e .\n", "./vendor/pkg\n",
    "pkg @ https://example.com/pkg-1.0.whl\n", "git+https://example.com/repo.git\n",
    "/srv/wheels/pkg-1.0-py3-none-any.whl\n",
])
def test_requirements_naming_other_things_always_resolve(text: str) -> None:
    assert pins.key(text, "/usr/bin/python3", ENV) is None


def test_the_name_changes_with_the_file_the_python_and_the_index_but_not_the_proxy() -> None:
    name = pins.key("Django\n", "/usr/bin/python3", ENV)
    assert name == pins.key("Django\n", "/usr/bin/python3",
                            {**ENV, "HTTPS_PROXY": "http://other:3128", "SSL_CERT_FILE": "/x"})
    assert name != pins.key("Django<5\n", "/usr/bin/python3", ENV)
    assert name != pins.key("Django\n", "/usr/bin/python3.12", ENV)
    assert name != pins.key("Django\n", "/usr/bin/python3",
                            {**ENV, "UV_INDEX_URL": "https://mirror.example.com/simple"})


def test_record_writes_the_venvs_distributions_and_drops_older_pins(tmp_path: Path) -> None:
    site = tmp_path / "venv/lib/python3.11/site-packages"
    for entry in ("django-5.2.20.dist-info", "typing_extensions-4.16.0.dist-info", "django",
                  "_virtualenv.pth"):
        (site / entry).mkdir(parents=True)
    cache = tmp_path / "cache"
    cache.mkdir()
    pins.record(tmp_path / "venv", cache, "old")
    pins.record(tmp_path / "venv", cache, "new")
    assert [p.name for p in (cache / "pins").iterdir()] == ["new.txt"]
    assert pins.path(cache, "new").read_text() == "django==5.2.20\ntyping_extensions==4.16.0\n"

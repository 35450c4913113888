from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.gd import AppRepo, Server


@pytest.fixture
def server(tmp_path: Path) -> Server:
    return Server(tmp_path / "root")


@pytest.fixture
def make_app(server: Server, tmp_path: Path) -> Callable[..., AppRepo]:
    def make(name: str = "app", files: dict[str, str] | None = None) -> AppRepo:
        repo = server.create_app(name, tmp_path / "work")
        if files:
            repo.commit(files, "initial")
        return repo

    return make

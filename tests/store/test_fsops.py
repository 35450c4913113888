"""Filesystem primitives, locks and the log mirror, on the real kernel."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from gitdeploy.store.fsops import (
    atomic_write,
    flush_filesystem,
    read_regular_file,
    remove_tree,
    swap_symlink,
)


def test_atomic_write_replaces_with_mode(tmp_path: Path) -> None:
    target = tmp_path / "f"
    atomic_write(target, b"one", 0o600)
    atomic_write(target, b"two", 0o640)
    assert target.read_bytes() == b"two"
    assert target.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["f"]


def test_swap_symlink_never_leaves_a_gap(tmp_path: Path) -> None:
    link = tmp_path / "current"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    swap_symlink(link, "a")
    stop = threading.Event()
    gaps: list[str] = []

    def watch() -> None:
        while not stop.is_set():
            try:
                os.readlink(link)
            except FileNotFoundError:
                gaps.append("missing")

    watcher = threading.Thread(target=watch)
    watcher.start()
    for i in range(500):
        swap_symlink(link, "ab"[i % 2])
    stop.set()
    watcher.join()
    assert gaps == []
    assert sorted(os.listdir(tmp_path)) == ["a", "b", "current"]


def test_read_regular_file_refuses_links(tmp_path: Path) -> None:
    (tmp_path / "Procfile").symlink_to("/etc/passwd")
    (tmp_path / "real").write_text("x")
    try:
        read_regular_file(tmp_path, "Procfile")
    except ValueError as exc:
        assert "regular file" in str(exc)
    else:
        raise AssertionError("a symlink was followed")
    assert read_regular_file(tmp_path, "real") == b"x"
    assert read_regular_file(tmp_path, "missing") is None


def test_remove_tree_copes_with_read_only_dirs(tmp_path: Path) -> None:
    tree = tmp_path / "t"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f").write_text("x")
    os.chmod(tree / "a" / "b", 0o500)
    os.chmod(tree / "a", 0o500)
    remove_tree(tree)
    assert not tree.exists()


def test_flush_filesystem_flushes_a_directory_and_names_a_bad_one(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("data")
    flush_filesystem(tmp_path)
    with pytest.raises(OSError):
        flush_filesystem(tmp_path / "f")  # not a directory

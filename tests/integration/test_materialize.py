"""Incremental releases: unchanged files linked from the live release, never written to."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

from tests.support.gd import AppRepo, Server, run

MakeApp = Callable[..., AppRepo]
BASE = {
    "Procfile": "release: true\n",
    "keep.txt": "unchanged\n",
    "modify.txt": "before\n",
    "delete.txt": "gone soon\n",
    "mode.sh": "#!/bin/sh\necho mode\n",
    "becomes-link.txt": "a file first\n",
    "dir/deep/nested.txt": "deep\n",
    "dir/removed/only.txt": "the whole dir goes\n",
    "glob [x]*.txt": "brackets and stars\n",
    "spaced name.txt": "spaces\n",
    "ünï.txt": "unicode\n",
}


def tree(root: Path) -> dict[str, tuple[str, str]]:
    """path -> (kind, content digest or link target, exec bit) of every entry under root."""
    found: dict[str, tuple[str, str]] = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            found[name] = ("link", os.readlink(path))
        elif stat.S_ISREG(info.st_mode):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            found[name] = ("file", f"{digest} x={bool(info.st_mode & 0o100)}")
        else:
            found[name] = ("dir", "")
    return found


def full_extraction(server: Server, repo: AppRepo, dest: Path) -> Path:
    """The pushed head as a plain `git archive | tar -x` makes it: what a release must equal."""
    sha = run(["git", "rev-parse", "HEAD"], cwd=repo.work).stdout.strip()
    dest.mkdir()
    archive = subprocess.Popen(["git", "-c", "tar.umask=0022", "--git-dir",
                                str(server.root / "repos/app.git"), "archive", sha],
                               stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, check=True)
    assert archive.wait() == 0
    return dest


def inodes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.lstat().st_ino for p in root.rglob("*")
            if not p.is_dir() or p.is_symlink()}


def change(repo: AppRepo) -> None:
    work = repo.work
    (work / "modify.txt").write_text("after\n")
    (work / "delete.txt").unlink()
    (work / "mode.sh").chmod(0o755)
    (work / "becomes-link.txt").unlink()
    (work / "becomes-link.txt").symlink_to("keep.txt")
    (work / "dir/removed/only.txt").unlink()
    (work / "dir/removed").rmdir()
    (work / "new/dir").mkdir(parents=True)
    (work / "new/dir/added.txt").write_text("added\n")
    (work / "glob [x]*.txt").write_text("brackets changed\n")
    repo.commit(message="change everything that can change")


def test_an_incremental_release_equals_a_full_extraction(make_app: MakeApp, server: Server,
                                                         tmp_path: Path) -> None:
    repo = make_app("app", BASE)
    repo.push()
    v1 = server.root / "apps/app/releases/v1"
    before, before_inodes = tree(v1), inodes(v1)
    change(repo)
    text = repo.push().stderr
    assert "Reused 5 unchanged files of v1, extracted 5" in text
    v2 = server.root / "apps/app/releases/v2"
    full = full_extraction(server, repo, tmp_path / "full")
    assert tree(v2) == tree(full)
    # v1 is exactly as it was: nothing was written into a file both releases hold.
    assert tree(v1) == before and inodes(v1) == before_inodes
    shared = {p for p, i in inodes(v2).items() if before_inodes.get(p) == i}
    assert shared == {"keep.txt", "dir/deep/nested.txt", "spaced name.txt", "ünï.txt",
                      "Procfile"}
    for path in ("modify.txt", "mode.sh", "glob [x]*.txt"):
        assert inodes(v2)[path] != before_inodes[path]


def test_a_file_the_app_changed_in_place_is_not_reused(make_app: MakeApp,
                                                       server: Server) -> None:
    repo = make_app("app", BASE)
    repo.push()
    live = server.root / "apps/app/current"
    (live / "keep.txt").write_text("scribbled on by the running app\n")
    repo.commit({"modify.txt": "after\n"})
    repo.push()
    assert (server.root / "apps/app/releases/v2/keep.txt").read_text() == "unchanged\n"


def test_the_slug_holds_exactly_the_commit(make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", BASE)
    repo.push()
    change(repo)
    repo.push()
    server.wait_idle("app")
    with tarfile.open(server.root / "apps/app/slugs/v2.tar.gz") as slug:
        names = {m.name.removeprefix("./") for m in slug.getmembers() if not m.isdir()}
    expected = {p for p, (kind, _) in tree(server.root / "apps/app/releases/v2").items()
                if kind != "dir"}
    assert names == expected


def test_rollback_to_a_release_whose_slug_and_dir_are_gone_uses_its_commit(
        make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {**BASE, "gitdeploy.yml": "keep_releases: 1\n"})
    repo.push()                                        # v1
    for label in ("b", "c"):
        repo.commit({"modify.txt": label})
        repo.push()                                    # v2, v3: v1 pruned
    server.wait_idle("app")
    assert not (server.root / "apps/app/releases/v1").exists()
    refused = server.gd("rollback", "-a", "app", "v1", check=False)
    assert refused.returncode == 2 and "pruned" in refused.stderr


def test_links_carry_over_release_after_release(make_app: MakeApp, server: Server,
                                                tmp_path: Path) -> None:
    """Files linked into v2 are reused by v3 too (their mtime is v1's commit time, which is
    not v2's), and every release still equals a full extraction of its commit."""
    repo = make_app("app", BASE)
    repo.push()
    for i, path in enumerate(("modify.txt", "keep.txt", "new-file.txt"), start=2):
        repo.commit({path: f"change {i}\n"})
        text = repo.push().stderr
        assert f"Reused {len(BASE) - 1} unchanged files of v{i - 1}, extracted 1" in text or (
            path == "new-file.txt" and
            f"Reused {len(BASE)} unchanged files of v{i - 1}, extracted 1" in text), text
    full = full_extraction(server, repo, tmp_path / "full")
    assert tree(server.root / "apps/app/releases/v4") == tree(full)
    original = inodes(server.root / "apps/app/releases/v1")["Procfile"]
    assert inodes(server.root / "apps/app/releases/v4")["Procfile"] == original


def test_a_big_tree_linked_by_two_processes_is_exact(make_app: MakeApp, server: Server,
                                                     tmp_path: Path) -> None:
    """Above 10,000 files a helper process links half of the directories."""
    files = {f"d{i % 60:02d}/f{i}.txt": f"{i}\n" for i in range(12_000)}
    repo = make_app("app", {"Procfile": "release: true\n", **files})
    repo.push()
    live = server.root / "apps/app/current"
    for name in ("d00/f0.txt", "d59/f59.txt", "d30/f30.txt"):  # edited in place, both halves
        (live / name).write_text("scribbled\n")
    repo.commit({"d10/f10.txt": "changed\n"})
    text = repo.push().stderr
    assert "Reused 11,997 unchanged files of v1, extracted 4" in text
    full = full_extraction(server, repo, tmp_path / "full")
    assert tree(server.root / "apps/app/releases/v2") == tree(full)

"""The package's rooms and the one direction imports flow in, checked on the source.

Every import counts, including those inside functions (lazy imports are still arrows).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gitdeploy"

# Lower ranks are imported by higher ones, never the reverse; rooms of equal rank are
# neighbours that do not import each other.
RANKS = {
    "errors": 0, "faults": 0, "resources": 0,
    "model": 1,
    "appconfig": 2,
    "store": 3, "sandbox": 3,
    "git": 4, "run": 4, "database": 4,
    "processes": 5, "proxy": 5,
    "release": 6,
    "events": 7,
    "access": 8,
    "cli": 9,
    "__main__": 10,
}
PURE = ("model", "appconfig")  # values in, data out
IMPURE_MODULES = {"os", "subprocess", "socket", "sqlite3", "fcntl", "shutil", "psycopg",
                  "pathlib", "threading", "signal"}
MAX_LINES = 300


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def package_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: {target for target in imports_of(path) if target in modules and target != name}
            for name, path in modules.items()}


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def violations(graph: Mapping[str, Iterable[str]]) -> list[str]:
    found = []
    for source, targets in graph.items():
        here = room(source)
        for target in targets:
            there = room(target)
            if there in (here, "__init__"):
                continue
            if here not in RANKS or there not in RANKS:
                found.append(f"{source} -> {target}: a room with no rank")
            elif RANKS[there] >= RANKS[here]:
                direction = "upward" if RANKS[there] > RANKS[here] else "sideways"
                found.append(f"{source} -> {target}: {direction} import")
    return sorted(found)


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return result


def test_imports_flow_one_way() -> None:
    assert violations(package_graph()) == []


def test_no_import_cycle() -> None:
    assert cycles(package_graph()) == []


def test_every_room_has_a_rank_and_a_docstring() -> None:
    for directory in sorted(p for p in PACKAGE.iterdir() if (p / "__init__.py").exists()):
        assert directory.name in RANKS, f"{directory.name}: add it to RANKS"
        assert ast.get_docstring(ast.parse((directory / "__init__.py").read_text())), \
            f"{directory.name}/__init__.py says nothing of what lives there"


@pytest.mark.parametrize("pure", PURE)
def test_pure_rooms_touch_no_files_or_processes(pure: str) -> None:
    for path in (PACKAGE / pure).glob("*.py"):
        impure = {name.split(".")[0] for name in imports_of(path)} & IMPURE_MODULES
        assert not impure, f"{module_name(path)} imports {sorted(impure)}"


def test_modules_stay_small() -> None:
    big = {module_name(p): n for p in PACKAGE.rglob("*.py")
           if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert big == {}


# The checks themselves must catch what they are for.

def test_the_checks_catch_upward_sideways_and_cyclic_imports() -> None:
    graph = {
        "gitdeploy.store.ledger": {"gitdeploy.release.worker"},  # upward
        "gitdeploy.git.repo": {"gitdeploy.run.runner"},  # sideways
        "gitdeploy.release.worker": {"gitdeploy.release.prepare"},
        "gitdeploy.release.prepare": {"gitdeploy.release.worker"},  # a cycle within a room
        "gitdeploy.cli.main": {"gitdeploy.model.names"},  # fine
    }
    assert violations(graph) == [
        "gitdeploy.git.repo -> gitdeploy.run.runner: sideways import",
        "gitdeploy.store.ledger -> gitdeploy.release.worker: upward import",
    ]
    assert cycles(graph) == [["gitdeploy.release.prepare", "gitdeploy.release.worker"]]


def test_lazy_imports_count(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from gitdeploy.cli import main\n    import gitdeploy.events\n")
    assert {"gitdeploy.cli", "gitdeploy.cli.main", "gitdeploy.events"} <= imports_of(source)

from __future__ import annotations

import pytest

from gitdeploy.appconfig.buildpack import (
    BuildpackError,
    NodeBuild,
    PythonBuild,
    detect,
    python_request,
)
from gitdeploy.appconfig.settings import parse_settings

PACKAGE = b'{"name": "x", "scripts": {"build": "vite build"}, "devDependencies": {"vite": "5"}}'


def plan(names: set[str], files: dict[str, bytes] | None = None, yml: bytes | None = None,
         config: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return detect(names, files or {}, parse_settings(yml), config or {})


@pytest.mark.parametrize(("names", "installer", "source"), [
    ({"uv.lock", "pyproject.toml", "requirements.txt"}, "uv sync", "uv.lock"),
    ({"poetry.lock", "pyproject.toml", "requirements.txt"}, "poetry", "poetry.lock"),
    ({"pyproject.toml", "requirements.txt"}, "pyproject", "pyproject.toml"),
    ({"requirements.txt", "package.json"}, "requirements", "requirements.txt"),
])
def test_python_detection_order(names: set[str], installer: str, source: str) -> None:
    (step,) = plan(names, {"package.json": b"{}"}).steps
    assert isinstance(step, PythonBuild)
    assert (step.installer, step.source) == (installer, source)


def test_node_with_and_without_a_lock() -> None:
    (step,) = plan({"package.json", "package-lock.json"}, {"package.json": PACKAGE}).steps
    assert isinstance(step, NodeBuild)
    assert (step.installer, step.build_script, step.dev_dependencies) == ("npm ci", True, True)
    (step,) = plan({"package.json"}, {"package.json": b'{"engines": {"node": ">=18"}}'}).steps
    assert isinstance(step, NodeBuild)
    assert (step.installer, step.build_script, step.engines) == ("npm install", False, ">=18")


def test_a_procfile_only_app_builds_nothing_and_says_why() -> None:
    found = plan({"manage.py"})
    assert not found.builds
    assert found.describe() == ["No build: no requirements.txt, pyproject.toml, uv.lock or "
                                "package.json"]


def test_gitdeploy_yml_names_the_builders_or_turns_detection_off() -> None:
    names = {"requirements.txt", "package.json"}
    files = {"package.json": b"{}"}
    off = plan(names, files, b"builder: none\n")
    assert not off.builds and off.describe() == ["No builder (gitdeploy.yml)"]
    both = plan(names, files, b"builder: [node, python]\nbuild: make assets\n")
    assert [step.name for step in both.steps] == ["node", "python"] and both.builds
    assert both.describe()[-1] == "Then the build command of gitdeploy.yml: make assets"
    assert both.summary() == "node (package.json); python (requirements.txt); build: make assets"
    assert plan(set(), {}, b"build: make\n").builds  # a build command alone builds too
    with pytest.raises(BuildpackError, match="builder python needs"):
        plan({"package.json"}, files, b"builder: python\n")
    with pytest.raises(BuildpackError, match="builder node needs"):
        plan({"requirements.txt"}, {}, b"builder: node\n")


@pytest.mark.parametrize("yml", [b"builder: ruby\n", b"builder: [python, python]\n",
                                 b"builder: 3\n", b"python: {collectstatic: maybe}\n"])
def test_bad_builder_settings_are_refused(yml: bytes) -> None:
    with pytest.raises(BuildpackError.__mro__[1]):  # a SettingsError: a UsageError too
        parse_settings(yml)


def test_python_version_requests() -> None:
    assert python_request(".python-version", b"3.11\n") == "3.11"
    assert python_request(".python-version", b"# pinned\n3.12.4\n") == "3.12"
    assert python_request("runtime.txt", b"python-3.11.9") == "3.11"
    with pytest.raises(BuildpackError, match=r"runtime.txt asks for 'ruby-3.3'"):
        python_request("runtime.txt", b"ruby-3.3")
    (step,) = plan({"requirements.txt", ".python-version", "runtime.txt"},
                   {".python-version": b"3.12", "runtime.txt": b"python-3.11.2"}).steps
    assert isinstance(step, PythonBuild) and (step.python, step.python_source) == (
        "3.12", ".python-version")


def test_collectstatic_for_django_unless_turned_off() -> None:
    names = {"requirements.txt", "manage.py"}
    (step,) = plan(names).steps
    assert isinstance(step, PythonBuild) and step.django and step.collectstatic
    (step,) = plan(names, yml=b"python: {collectstatic: false}\n").steps
    assert isinstance(step, PythonBuild) and not step.collectstatic
    found = plan(names, config={"DISABLE_COLLECTSTATIC": "1"})
    assert not found.steps[0].collectstatic  # type: ignore[union-attr]
    assert "collectstatic is off: DISABLE_COLLECTSTATIC is set" in found.describe()


@pytest.mark.parametrize(("data", "problem"), [
    (b"{nope", "package.json is not valid JSON"),
    (b"[]", "must hold a JSON object"),
    (b'{"engines": {"node": 20}}', "engines.node must be a version range"),
])
def test_a_package_json_that_cannot_work(data: bytes, problem: str) -> None:
    with pytest.raises(BuildpackError, match=problem):
        plan({"package.json"}, {"package.json": data})

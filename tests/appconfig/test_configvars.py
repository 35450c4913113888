from __future__ import annotations

import pytest

from gitdeploy.appconfig.configvars import ConfigChange, parse_assignments, parse_unset
from gitdeploy.errors import UsageError


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["A=1"], {"A": "1"}),
        (["A=b=c"], {"A": "b=c"}),
        (["A="], {"A": ""}),
        (["_X=with spaces"], {"_X": "with spaces"}),
        (["A=line\nbreak", "B=ünïcødé"], {"A": "line\nbreak", "B": "ünïcødé"}),
        (["A=1", "A=2"], {"A": "2"}),
    ],
)
def test_assignments(args: list[str], expected: dict[str, str]) -> None:
    assert parse_assignments(args).set == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to set"),
        (["A"], "expected KEY=VALUE"),
        (["1A=x"], "invalid config var name '1A'"),
        (["A-B=x"], "invalid config var name 'A-B'"),
        (["=x"], "invalid config var name ''"),
        (["A B=x"], "invalid config var name 'A B'"),
        (["A=nul\0"], "NUL byte"),
        (["A=" + "x" * 70000], "longer than"),
    ],
)
def test_bad_assignments(args: list[str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_assignments(args)
    assert message in caught.value.message


def test_unset() -> None:
    assert parse_unset(["A", "A"], {"A": "1"}).unset == ("A",)
    with pytest.raises(UsageError, match="not set: B"):
        parse_unset(["B"], {"A": "1"})


@pytest.mark.parametrize(
    ("change", "before", "after", "description"),
    [
        (ConfigChange({"A": "1"}), {}, {"A": "1"}, "Set A config vars"),
        (ConfigChange({"A": "2", "B": "3"}), {"A": "1"}, {"A": "2", "B": "3"},
         "Set A, B config vars"),
        (ConfigChange({}, ("A",)), {"A": "1", "B": "2"}, {"B": "2"}, "Remove A config vars"),
    ],
)
def test_apply_and_describe(change: ConfigChange, before: dict[str, str],
                            after: dict[str, str], description: str) -> None:
    assert change.apply(before) == after
    assert change.describe() == description


def test_a_bare_key_takes_the_value_from_stdin() -> None:
    from gitdeploy.appconfig.configvars import stdin_key

    assert stdin_key(["A=1", "PEM"]) == "PEM" and stdin_key(["A=1"]) is None
    change = parse_assignments(["A=1", "PEM"], stdin_value="l1\nl2\n")
    assert change.set == {"A": "1", "PEM": "l1\nl2"}
    assert parse_assignments(["K"], stdin_value="x\r\n").set == {"K": "x"}
    assert parse_assignments(["K"], stdin_value="x\n\n").set == {"K": "x\n"}
    for args, value, message in ((["K", "L"], "x", "only one KEY"), (["1K"], "x", "1K")):
        with pytest.raises(UsageError, match=message):
            stdin_key(args)
            parse_assignments(args, stdin_value=value)
    for value, message in (("", "no value on stdin for K"), ("\n", "no value on stdin"),
                           ("a\0b", "NUL byte")):
        with pytest.raises(UsageError, match=message):
            parse_assignments(["K"], stdin_value=value)


def test_redact_argv_drops_every_value_after_config_set() -> None:
    from gitdeploy.appconfig.configvars import redact_argv

    assert redact_argv(["--root", "/r", "config:set", "-a", "app", "GREETING=hi",
                        "DB_URL=postgres://u:p@h/d", "--remote=prod", "KEY"]) == [
        "--root", "/r", "config:set", "-a", "app", "GREETING=*****", "DB_URL=*****",
        "--remote=prod", "KEY"]
    assert redact_argv(["ps:scale", "web=2"]) == ["ps:scale", "web=2"]

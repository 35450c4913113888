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

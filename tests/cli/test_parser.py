"""Every command the parser knows runs a handler that exists."""

from __future__ import annotations

import argparse
import importlib

import pytest

from gitdeploy.cli.parser import build_parser
from gitdeploy.errors import UsageError


def test_every_command_names_a_handler_that_exists() -> None:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(sub.choices) > 20
    for name, command in sub.choices.items():
        module, _, function = str(command.get_default("handler")).partition(":")
        handler = getattr(importlib.import_module(f"gitdeploy.cli.{module}"), function, None)
        assert callable(handler), f"{name}: no handler {module}:{function}"


def test_an_unknown_command_names_no_internal_one() -> None:
    with pytest.raises(UsageError) as caught:
        build_parser().parse_args(["relases"])
    message = caught.value.message
    assert message == "unknown command 'relases' (did you mean releases?); see `gitdeploy help`"
    for internal in ("ssh-command", "hook", "worker"):
        assert internal not in message

"""Every command the parser knows runs a handler that exists."""

from __future__ import annotations

import argparse
import importlib

from gitdeploy.cli.parser import build_parser


def test_every_command_names_a_handler_that_exists() -> None:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(sub.choices) > 20
    for name, command in sub.choices.items():
        module, _, function = str(command.get_default("handler")).partition(":")
        handler = getattr(importlib.import_module(f"gitdeploy.cli.{module}"), function, None)
        assert callable(handler), f"{name}: no handler {module}:{function}"

"""Property: whatever arrives in SSH_ORIGINAL_COMMAND, the dispatcher either refuses it with
a sentence or allows exactly a whitelisted command on the key's own apps. Nothing runs here:
``decide`` only decides."""

from __future__ import annotations

import contextlib
import io
from argparse import Namespace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitdeploy.access.dispatch import decide
from gitdeploy.access.sshcommand import ADMIN_COMMANDS, SSH_COMMANDS, GitRequest
from gitdeploy.cli.parser import build_parser
from gitdeploy.errors import UsageError
from gitdeploy.model import names
from gitdeploy.model.access import Access

ALICE = Access("alice", False, frozenset({"shop"}))
TOKENS = [
    "releases", "releases:info", "config:set", "config", "rollback", "deploy", "promote",
    "ps:scale", "logs", "apps", "apps:create", "apps:destroy", "keys", "keys:add", "help",
    "gitdeploy", "git-receive-pack", "git-upload-pack", "git-upload-archive", "hook", "worker",
    "ssh-command", "setup", "-a", "--app", "--to", "--root", "--root=/", "--key", "--json",
    "--confirm", "-n", "shop", "blog", "'shop'", "'/shop.git'", "../shop", "/etc/passwd",
    "shop;", ";", "&&", "||", "|", "`id`", "$(id)", "${HOME}", ">", "<", "&", "\n", "\t",
    "'", '"', "\\", "*", "?", "~", "#", "!", "A=1", "K=$(rm -rf /)", "v1", "v0", "web=2",
    "\x00", "\xff", "é", "--", "-", "--help", "-h", "--version",
]
WORD = st.one_of(st.sampled_from(TOKENS), st.text(min_size=0, max_size=12))
COMMANDS = st.lists(WORD, max_size=8).map(" ".join)


def run_decide(raw: bytes) -> object:
    parser = build_parser()
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            return decide(ALICE, raw, parser.parse_args)
        except UsageError as refused:
            assert refused.exit_code == 2 and refused.message.strip()
            return refused
        except SystemExit as done:  # -h/--help of a whitelisted command: prints, runs nothing
            assert done.code == 0
            return done


def check(decision: object) -> None:
    if isinstance(decision, GitRequest):
        assert names.app_name(decision.app) == "shop"
    elif isinstance(decision, Namespace):
        assert decision.command in SSH_COMMANDS and decision.command not in ADMIN_COMMANDS
        assert decision.root is None and decision.remote is None
        for attribute in ("app", "to"):
            value = getattr(decision, attribute, None)
            assert value in (None, "shop")
        if decision.command not in ("apps", "help"):
            assert getattr(decision, "app", None) == "shop"


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(COMMANDS, st.sampled_from([b"", b"\x00", b"\xff\xfe", b"\n", b" ; id"]))
def test_any_text_is_refused_or_allowed_exactly(text: str, suffix: bytes) -> None:
    raw = text.encode("utf-8", errors="surrogateescape") + suffix
    check(run_decide(raw))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_are_refused_or_allowed_exactly(raw: bytes) -> None:
    check(run_decide(raw))


def test_a_known_allowed_and_a_known_refused() -> None:
    allowed = run_decide(b"releases -a shop --json")
    assert isinstance(allowed, Namespace) and allowed.command == "releases"
    assert isinstance(run_decide(b"releases -a blog"), UsageError)
    assert isinstance(run_decide(b"git-receive-pack '/shop.git'"), GitRequest)
    assert isinstance(run_decide(b"git-receive-pack '/blog.git'"), UsageError)

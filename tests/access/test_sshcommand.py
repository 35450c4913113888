from __future__ import annotations

import base64
import shlex
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitdeploy.access.client import Remote, parse_remote_url
from gitdeploy.access.keys import parse_public_key
from gitdeploy.access.sshcommand import CommandRequest, GitRequest, denial, parse
from gitdeploy.errors import UsageError
from gitdeploy.model.access import Access


@pytest.mark.parametrize(
    ("raw", "request_"),
    [
        (b"", None),
        (b"   ", None),
        (b"gitdeploy", None),
        (b"git-receive-pack 'shop'", GitRequest("receive-pack", "shop")),
        (b"git-receive-pack 'shop.git'", GitRequest("receive-pack", "shop")),
        (b"git-receive-pack '/shop.git'", GitRequest("receive-pack", "shop")),
        (b"git-upload-pack '/shop.git'", GitRequest("upload-pack", "shop")),
        (b"git-receive-pack '/shop'", GitRequest("receive-pack", "shop")),
        (b"releases -a shop", CommandRequest(("releases", "-a", "shop"))),
        (b"gitdeploy releases -a shop", CommandRequest(("releases", "-a", "shop"))),
        (b"config:set -a shop 'A=b c'", CommandRequest(("config:set", "-a", "shop", "A=b c"))),
        (b"config:set -a shop 'X=$HOME'", CommandRequest(("config:set", "-a", "shop", "X=$HOME"))),
        (b"keys:add bob --apps shop", CommandRequest(("keys:add", "bob", "--apps", "shop"))),
    ],
)
def test_accepted(raw: bytes, request_: object) -> None:
    assert parse(raw) == request_


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"releases -a x; rm -rf /", None),  # parsed as words: argparse refuses them later
        (b"rm -rf /", "'rm' is not a gitdeploy command"),
        (b"sh -c id", "'sh' is not a gitdeploy command"),
        (b"releases\n-a x", "control characters"),
        (b"releases\r", "control characters"),
        (b"releases\x00 -a x", "NUL byte"),
        (b"releases -a \xff\xfe", "not valid UTF-8"),
        (b"releases -a 'unclosed", "No closing quotation"),
        (b"x" * 5000, "longer than 4096"),
        (b"git-receive-pack '../x.git'", "is not an app's repository"),
        (b"git-receive-pack '/etc/passwd'", "is not an app's repository"),
        (b"git-receive-pack '//shop'", "is not an app's repository"),
        (b"git-receive-pack '/shop/'", "is not an app's repository"),
        (b"git-receive-pack 'a/b.git'", "is not an app's repository"),
        (b"git-receive-pack '/srv/repos/shop.git'", "is not an app's repository"),
        (b"git-receive-pack", "takes exactly one repository"),
        (b"git-receive-pack 'a' 'b'", "takes exactly one repository"),
        (b"git-upload-archive 'shop'", "is not a gitdeploy command"),
        (b"hook post-receive shop", "'hook' is not a gitdeploy command"),
        (b"worker shop v1", "'worker' is not a gitdeploy command"),
        (b"ssh-command --key admin", "'ssh-command' is not a gitdeploy command"),
        (b"setup --user root", "'setup' is not a gitdeploy command"),
        (b"--root=/ releases -a x", "'--root=/' is not a gitdeploy command"),
        (b"releases --root=/ -a x", "--root cannot be given over ssh"),
        (b"releases -a x --root /", "--root cannot be given over ssh"),
        (b"gitdeploy --root / releases", "is not a gitdeploy command"),
        (b"`id`", "is not a gitdeploy command"),
        (b"$(id)", "is not a gitdeploy command"),
    ],
)
def test_refused(raw: bytes, why: str | None) -> None:
    if why is None:
        assert isinstance(parse(raw), CommandRequest)
        return
    with pytest.raises(UsageError) as caught:
        parse(raw)
    assert why in caught.value.message
    assert caught.value.exit_code == 2


ADMIN = Access("root", True, frozenset())
ALICE = Access("alice", False, frozenset({"shop"}))


@pytest.mark.parametrize(
    ("access", "command", "apps", "allowed"),
    [
        (ADMIN, "apps:destroy", ["shop"], True),
        (ADMIN, "releases", ["anything"], True),
        (ALICE, "releases", ["shop"], True),
        (ALICE, "config:set", ["shop"], True),
        (ALICE, "promote", ["shop", "shop"], True),
        (ALICE, "releases", ["blog"], False),
        (ALICE, "promote", ["shop", "blog"], False),
        (ALICE, "apps:create", [], False),
        (ALICE, "keys", [], False),
        (ALICE, "keys:add", [], False),
        (ALICE, "certs:add", ["shop"], True),  # an app's key manages its certificate
        (ALICE, "certs:remove", ["blog"], False),
        (ALICE, "push", ["shop"], True),
        (ALICE, "push", ["nonexistent"], False),
    ],
)
def test_acl(access: Access, command: str, apps: list[str], allowed: bool) -> None:
    assert (denial(access, command, apps) is None) is allowed


def test_denial_does_not_reveal_whether_an_app_exists() -> None:
    for app in ("blog", "nope"):
        assert denial(ALICE, "releases", [app]) == (
            f"key 'alice' has no access to app {app!r} (apps are made by an admin: "
            f"apps:create {app})")


@pytest.mark.parametrize(
    ("url", "remote"),
    [
        ("deploy@host:shop", Remote("deploy@host", None, "shop")),
        ("deploy@host:shop.git", Remote("deploy@host", None, "shop")),
        ("deploy@example.com:/shop.git", Remote("deploy@example.com", None, "shop")),
        ("host:shop", Remote("host", None, "shop")),
        ("ssh://deploy@host/shop", Remote("deploy@host", None, "shop")),
        ("ssh://deploy@host:2222/shop.git", Remote("deploy@host", 2222, "shop")),
        ("ssh://host/srv/repos/shop.git", Remote("host", None, "shop")),
        ("ssh://deploy@[::1]:22/shop", Remote("deploy@::1", 22, "shop")),
        ("/srv/gitdeploy/repos/shop.git", None),
        ("./relative/repo", None),
        ("file:///srv/shop.git", None),
        ("https://github.com/x/shop.git", None),
    ],
)
def test_remote_urls(url: str, remote: Remote | None) -> None:
    assert parse_remote_url(url) == remote


def _key(kind: str, body: bytes = b"x" * 32) -> str:
    blob = struct.pack(">I", len(kind)) + kind.encode() + body
    return f"{kind} {base64.b64encode(blob).decode()}"


@pytest.mark.parametrize(
    ("text", "result"),
    [
        (_key("ssh-ed25519") + " alice@laptop\n", _key("ssh-ed25519")),
        ("# comment\n\n" + _key("ssh-rsa") + "\n", _key("ssh-rsa")),
        ("", "got 0 lines"),
        (_key("ssh-ed25519") + "\n" + _key("ssh-rsa"), "got 2 lines"),
        ('command="sh" ' + _key("ssh-ed25519"), "and no options"),
        ("ssh-dss AAAAB3", "TYPE one of"),
        ("ssh-ed25519 !!notbase64!!", "base64 part is damaged"),
        (_key("ssh-rsa").replace("ssh-rsa ", "ssh-ed25519 ", 1), "but holds 'ssh-rsa'"),
    ],
)
def test_parse_public_key(text: str, result: str) -> None:
    if result.startswith("ssh-"):
        assert parse_public_key(text) == result
    else:
        with pytest.raises(UsageError, match=result.replace("(", r"\(")):
            parse_public_key(text)


printable = st.text(st.characters(min_codepoint=0x20, blacklist_characters="\x7f",
                                  blacklist_categories=("Cs",)), max_size=40)


@given(st.lists(printable, max_size=6))
def test_client_words_survive_the_trip(values: list[str]) -> None:
    """What client mode sends (shlex.join) is exactly what the dispatcher gets back."""
    words = ["config:set", "-a", "shop", *(f"K{i}={v}" for i, v in enumerate(values))]
    raw = shlex.join(["gitdeploy", *words]).encode()
    if len(raw) <= 4096:
        assert parse(raw) == CommandRequest(tuple(words))

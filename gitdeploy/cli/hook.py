"""The push's hooks. ``proc-receive`` runs before any branch moves: it decides what the push
deploys, starts it, mirrors its log to the pusher and answers git ``ok``/``ng`` per branch,
which is what ``git push`` reports and exits with. ``post-receive`` runs after: it
acknowledges tags and other refs (and deploys, as before, for a repository that was not yet
set up for proc-receive)."""

from __future__ import annotations

import contextlib
import os

from gitdeploy.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, GitdeployError, UsageError
from gitdeploy.events.apps import prepare_repository
from gitdeploy.events.deploy import (
    RefUpdate,
    check_app_files,
    classify,
    deploy_branch,
    parse_ref_updates,
    request_deploy,
)
from gitdeploy.events.launch import exit_code, follow
from gitdeploy.git import pktline
from gitdeploy.git.repo import ZERO_SHA, GitRepo, update_ref
from gitdeploy.model.states import Status
from gitdeploy.store import mirror
from gitdeploy.store.releaselog import header, warning
from gitdeploy.store.server import Server


def _say(out_fd: int, *lines: str) -> None:
    with contextlib.suppress(mirror.ReaderGone):
        mirror.write(out_fd, "".join(line + "\n" for line in lines).encode(errors="replace"))


def _refused(repo: GitRepo, update: RefUpdate, out_fd: int) -> bool:
    """The commit's Procfile or gitdeploy.yml is invalid: said line by line, True."""
    try:
        check_app_files(repo, update.new)
    except UsageError as exc:
        _say(out_fd, *(warning(line) for line in exc.message.splitlines()),
             header(f"{update.new[:7]} was not deployed: fix the above and push again"))
        return True
    return False


def _deploy(server: Server, app: str, repo: GitRepo, update: RefUpdate, out_fd: int
            ) -> str | None:
    """Deploy a push to the deploy branch: None if it went live, else why not, in a line."""
    if _refused(repo, update, out_fd):
        return "not deployed: invalid Procfile or gitdeploy.yml"
    release = request_deploy(server, app, update.new, repo, ref=update.ref)
    final = follow(server, app, release.version, out_fd)
    if final is None:
        return f"the pusher left before the verdict of {release.name}"
    if final.status is Status.SUCCEEDED:
        return None
    return f"release {final.name} failed: {final.reason or 'no verdict'}"


def _answers(server: Server, app: str, updates: list[RefUpdate], out_fd: int
             ) -> dict[str, str | None]:
    """Each pushed branch's answer: None (ok) or the reason it was refused."""
    server.app(app)
    repo = GitRepo(server.layout.repo(app))
    created = frozenset(u.branch for u in updates
                        if u.branch is not None and u.old == ZERO_SHA and not u.deleted)
    branch = deploy_branch(server, app, repo, created)
    answers: dict[str, str | None] = {}
    deploys = []
    for update in updates:
        if update.branch == branch:
            if update.deleted:  # instead of git's nine lines of receive.denyDeleteCurrent
                answers[update.ref] = f"the deploy branch {branch} cannot be deleted"
            else:
                deploys.append(update)
            continue
        try:  # stored as git would: only from the value the pusher saw
            update_ref(repo.path, update.ref, update.new, update.old)
        except GitdeployError as exc:
            answers[update.ref] = exc.message
            continue
        answers[update.ref] = None
        message = classify(update, branch)
        if message is not None:
            _say(out_fd, header(message))
    for update in deploys:
        answers[update.ref] = _deploy(server, app, repo, update, out_fd)
    return answers


def proc_receive(server: Server, app: str, in_fd: int, out_fd: int, say_fd: int) -> int:
    """git's side of the exchange on ``in_fd``/``out_fd`` (pkt-lines), the pusher's terminal
    on ``say_fd`` (the hook's stderr)."""
    pktline.read_section(in_fd)  # version=1 and what receive-pack offers: we ask for nothing
    os.write(out_fd, pktline.encode(b"version=1\0") + pktline.FLUSH)
    updates = [RefUpdate(*packet.decode(errors="surrogateescape").split(" ", 2))
               for packet in pktline.read_section(in_fd)]
    answers: dict[str, str | None] = {}
    failure = "internal error"
    try:
        answers = _answers(server, app, updates, say_fd)
    except GitdeployError as exc:
        failure = exc.message.splitlines()[0] if exc.message else failure
        _say(say_fd, warning(exc.message))
    reply = b""
    for update in updates:
        reason = answers.get(update.ref, failure)
        line = f"ok {update.ref}" if reason is None else f"ng {update.ref} {reason}"
        reply += pktline.encode(line.replace("\n", " ").encode(errors="surrogateescape"))
    with contextlib.suppress(OSError):  # receive-pack is gone with the pusher: nothing to tell
        os.write(out_fd, reply + pktline.FLUSH)
    return EXIT_OK


def post_receive(server: Server, app: str, stdin_text: str, out_fd: int) -> int:
    server.app(app)
    branches_handled = prepare_repository(server, app)
    repo = GitRepo(server.layout.repo(app))
    code = EXIT_OK
    branch = deploy_branch(server, app, repo)
    for update in parse_ref_updates(stdin_text):
        if branches_handled and update.branch is not None:
            continue  # proc-receive answered for it, before it moved
        message = classify(update, branch)
        if message is not None:
            _say(out_fd, header(message))
            continue
        if _refused(repo, update, out_fd):
            code = EXIT_USAGE
            continue
        release = request_deploy(server, app, update.new, repo)
        final = follow(server, app, release.version, out_fd)
        code = max(code, exit_code(final)) if final is not None else EXIT_FAILED
    return code

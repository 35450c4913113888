"""The app repository's hooks. pre-receive (before any ref moves): refuse deleting the
deploy branch. post-receive (after): decide what the push deploys, start it, mirror its log
to the pusher."""

from __future__ import annotations

import contextlib

from gitdeploy.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError
from gitdeploy.events.deploy import (
    check_app_files,
    classify,
    deploy_branch,
    parse_ref_updates,
    request_deploy,
)
from gitdeploy.events.launch import exit_code, follow
from gitdeploy.git.repo import GitRepo
from gitdeploy.model.states import Status
from gitdeploy.store import mirror
from gitdeploy.store.releaselog import header, warning
from gitdeploy.store.server import Server


def _say(out_fd: int, *lines: str) -> None:
    with contextlib.suppress(mirror.ReaderGone):
        mirror.write(out_fd, "".join(line + "\n" for line in lines).encode(errors="replace"))


def pre_receive(server: Server, app: str, stdin_text: str, out_fd: int) -> int:
    server.app(app)
    repo = GitRepo(server.layout.repo(app))
    branch = deploy_branch(server, app, repo)
    for update in parse_ref_updates(stdin_text):
        if update.deleted and update.branch == branch:
            _say(out_fd, header(f"{branch} is the deploy branch of {app}: it cannot be deleted"))
            return EXIT_FAILED
    return EXIT_OK


def post_receive(server: Server, app: str, stdin_text: str, out_fd: int) -> int:
    server.app(app)
    repo = GitRepo(server.layout.repo(app))
    code = EXIT_OK
    for update in parse_ref_updates(stdin_text):
        branch = deploy_branch(server, app, repo)
        message = classify(update, branch)
        if message is not None:
            _say(out_fd, header(message))
            continue
        try:
            settings = check_app_files(repo, update.new)
        except UsageError as exc:
            _say(out_fd, *(warning(line) for line in exc.message.splitlines()),
                 header(f"{update.new[:7]} was not deployed: fix the above and push again"))
            code = EXIT_USAGE
            continue
        release = request_deploy(server, app, update.new, repo)
        final = follow(server, app, release.version, out_fd)
        code = max(code, exit_code(final)) if final is not None else EXIT_FAILED
        moved = settings.branch is not None and settings.branch != branch
        if final is not None and final.status is Status.SUCCEEDED and moved:
            _say(out_fd, header(f"From now on, pushes to {settings.branch} deploy "
                                f"(gitdeploy.yml of {release.name})"))
    return code

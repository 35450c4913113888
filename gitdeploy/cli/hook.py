"""post-receive: decide what the push deploys, start it, mirror its log to the pusher."""

from __future__ import annotations

import contextlib

from gitdeploy.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError
from gitdeploy.events.deploy import check_app_files, classify, parse_ref_updates, request_deploy
from gitdeploy.events.launch import exit_code, follow
from gitdeploy.git.repo import GitRepo
from gitdeploy.store import mirror
from gitdeploy.store.releaselog import header, warning
from gitdeploy.store.server import Server


def _say(out_fd: int, *lines: str) -> None:
    with contextlib.suppress(mirror.ReaderGone):
        mirror.write(out_fd, "".join(line + "\n" for line in lines).encode(errors="replace"))


def post_receive(server: Server, app: str, stdin_text: str, out_fd: int) -> int:
    server.app(app)
    repo = GitRepo(server.layout.repo(app))
    code = EXIT_OK
    for update in parse_ref_updates(stdin_text):
        default = repo.default_branch()
        deploy_branch = default
        if update.branch is not None and not update.deleted:
            try:
                deploy_branch = check_app_files(repo, update.new).branch or default
            except UsageError as exc:
                if update.branch == default:
                    _say(out_fd, *(warning(line) for line in exc.message.splitlines()),
                         header(f"{update.new[:7]} was not deployed: fix the above and "
                                "push again"))
                    code = EXIT_USAGE
                else:
                    _say(out_fd, header(f"branch {update.branch} received; not deployed "
                                        "(its app configuration is invalid)"))
                continue
        message = classify(update, deploy_branch)
        if message is not None:
            _say(out_fd, header(message))
            continue
        release = request_deploy(server, app, update.new, repo)
        final = follow(server, app, release.version, out_fd)
        code = max(code, exit_code(final)) if final is not None else EXIT_FAILED
    return code

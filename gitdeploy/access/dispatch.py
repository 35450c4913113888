"""The ``authorized_keys`` forced command: run what an ssh key asked for, if it may.

sshd starts ``gitdeploy --root ROOT ssh-command --key NAME`` and puts the client's words in
``$SSH_ORIGINAL_COMMAND``. They are parsed (sshcommand.parse), checked against the key's
rights, and then either git's transport is exec'd on the app's repository or one gitdeploy
command runs, with the key's name as the acting user. Nothing else ever runs.
"""

from __future__ import annotations

import os
import shutil
import sys
from argparse import Namespace
from collections.abc import Callable

from gitdeploy.access import keys, sshcommand
from gitdeploy.access.sshcommand import GitRequest
from gitdeploy.errors import EXIT_OK, UsageError
from gitdeploy.events.apps import create_app, prepare_repository
from gitdeploy.model import names
from gitdeploy.model.access import Access
from gitdeploy.store.server import Server


def access_for(server: Server, key_name: str) -> Access:
    key = keys.get(server, key_name)
    if key is None:
        raise UsageError(f"key {key_name!r} is not known to this server")
    return Access(key.name, key.admin, frozenset(key.apps))


def help_text(access: Access) -> str:
    allowed = sorted(sshcommand.SSH_COMMANDS if access.admin
                     else sshcommand.APP_COMMANDS | sshcommand.OPEN_COMMANDS)
    rights = "admin" if access.admin else "apps: " + (", ".join(sorted(access.apps)) or "-")
    return "\n".join([
        f"gitdeploy: you are {access.key!r} ({rights})",
        "  git push/fetch: git remote add deploy USER@HOST:APP",
        "  commands: " + ", ".join(allowed),
        "  e.g.: ssh USER@HOST releases -a APP",
    ])


def refuse_unless_allowed(access: Access, command: str, involved: list[str]) -> None:
    reason = sshcommand.denial(access, command, involved)
    if reason is not None:
        raise UsageError(f"refused: {reason}")


def serve_git(server: Server, access: Access, request: GitRequest) -> int:
    app = request.app
    if server.ledger.app(app) is None:
        if request.service == "receive-pack" and access.admin:
            create_app(server, app)
            print(f"-----> Created app {app}", file=sys.stderr, flush=True)
        else:  # the same sentence as for an app the key may not see
            raise UsageError(f"refused: {sshcommand.no_access(access.key, app)}")
    elif request.service == "receive-pack":  # an app made by an older gitdeploy: its hooks
        prepare_repository(server, app)
    program = shutil.which(f"git-{request.service}")
    argv = [program] if program else ["git", request.service]
    env = {**os.environ, "GITDEPLOY_USER": access.key}
    os.execvpe(argv[0], [*argv, str(server.layout.repo(app))], env)
    return EXIT_OK  # not reached


def involved_apps(args: Namespace) -> list[str]:
    found = [value for value in (getattr(args, "app", None), getattr(args, "to", None)) if value]
    return [names.app_name(app) for app in found]


Decision = GitRequest | Namespace | None  # None: print the help


def decide(access: Access, raw: bytes, parse_command: Callable[[list[str]], Namespace]
           ) -> Decision:
    """What the key's request would run, or UsageError saying why nothing will. Runs nothing:
    the fuzz tests call it thousands of times."""
    request = sshcommand.parse(raw)
    if request is None:
        return None
    if isinstance(request, GitRequest):
        refuse_unless_allowed(access, "push" if request.service == "receive-pack" else "fetch",
                              [request.app])
        return request
    args = parse_command(list(request.argv))
    if args.command == "help":
        return None
    involved = involved_apps(args)
    if args.command in sshcommand.APP_COMMANDS and not involved:
        raise UsageError("no app given: use -a APP")
    refuse_unless_allowed(access, args.command, involved)
    return args


def ssh_command(server: Server, key_name: str, raw: bytes,
                parse_command: Callable[[list[str]], Namespace],
                run_command: Callable[[Server, Namespace], int]) -> int:
    """Dispatch one ssh request. ``parse_command(argv) -> Namespace`` is the CLI's parser,
    ``run_command`` runs what it parsed."""
    access = access_for(server, key_name)
    server.user = access.key
    server.access = access
    decision = decide(access, raw, parse_command)
    if decision is None:
        print(help_text(access))
        return EXIT_OK
    if isinstance(decision, GitRequest):
        return serve_git(server, access, decision)
    return run_command(server, decision)

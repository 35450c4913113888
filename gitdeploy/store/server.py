"""The server context: ROOT's layout, the ledger, and who is acting."""

from __future__ import annotations

import getpass
import os
import pwd
from pathlib import Path

from gitdeploy.appconfig.environment import Account
from gitdeploy.errors import UsageError
from gitdeploy.model import names
from gitdeploy.model.access import Access
from gitdeploy.model.release import AppRecord
from gitdeploy.store.fsops import private_dir
from gitdeploy.store.layout import Layout
from gitdeploy.store.ledger import Ledger


def acting_user() -> str:
    """The release's `user`: the ssh key name when set by the dispatcher, else the OS user."""
    return os.environ.get("GITDEPLOY_USER") or getpass.getuser()


def server_account() -> Account:
    """The OS account gitdeploy runs as: its name and home from the password database."""
    try:
        entry = pwd.getpwuid(os.getuid())
    except KeyError:  # a uid without an entry (some containers)
        return Account(None, "/")
    return Account(entry.pw_name, entry.pw_dir)


class Server:
    def __init__(self, root: Path, user: str | None = None,
                 access: Access | None = None) -> None:
        self.layout = Layout(root.absolute())
        self.user = user or acting_user()
        self.access = access  # set when acting for an ssh key; None: the server's own user
        self._ledger: Ledger | None = None
        self.account = server_account()

    def visible(self, app: str) -> bool:
        return self.access is None or self.access.can(app)

    @property
    def root(self) -> Path:
        return self.layout.root

    def exists(self) -> bool:
        return self.layout.ledger.exists()

    def ensure_root(self) -> None:
        """Create ROOT and its private state directory (0700) if needed."""
        private_dir(self.root)
        os.chmod(self.root, 0o700)
        for path in (self.layout.state_dir, self.layout.repos_dir, self.layout.apps_dir,
                     self.layout.oplog.parent):
            private_dir(path)

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            if not self.exists():
                raise UsageError(
                    f"no gitdeploy server at {self.root} (create an app with "
                    "`gitdeploy apps:create APP`, or pass --root / set GITDEPLOY_ROOT)"
                )
            self._ledger = Ledger(self.layout.ledger)
        return self._ledger

    def open_ledger(self) -> Ledger:
        """The ledger, creating ROOT on first use (apps:create)."""
        if self._ledger is None and not self.exists():
            self.ensure_root()
            self._ledger = Ledger(self.layout.ledger)
        return self.ledger

    def app(self, name: str) -> AppRecord:
        """The app's record; a clear error if there is no such app."""
        names.app_name(name)
        record = self.ledger.app(name)
        if record is None:
            raise UsageError(f"no app named {name!r} (see `gitdeploy apps`)")
        return record

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

"""Going live: swap ``current.env`` then ``current`` (each an atomic rename; recovery
re-syncs the pair), run the release's processes, check the web; and going back."""

from __future__ import annotations

import os

from gitdeploy import faults
from gitdeploy.appconfig.procfile import Procfile
from gitdeploy.appconfig.settings import (
    FILENAME,
    HealthcheckSettings,
    SettingsError,
    parse_settings,
)
from gitdeploy.errors import GitdeployError
from gitdeploy.model.states import GoLive, Reason
from gitdeploy.processes.apply import NO_MANAGER, apply, manager, stop_all
from gitdeploy.processes.control import last_lines, log_mark
from gitdeploy.processes.systemd import Systemd
from gitdeploy.processes.webcheck import check_web
from gitdeploy.proxy import frontdoor
from gitdeploy.release import switchover
from gitdeploy.release.failure import ReleaseFailure
from gitdeploy.store import routes
from gitdeploy.store.fsops import atomic_write, read_regular_file, remove_file, swap_symlink
from gitdeploy.store.live import current_version
from gitdeploy.store.releaselog import ReleaseLog
from gitdeploy.store.server import Server


class Switch:
    """One release's switch of ``current``: remembers what was live, to go back to it."""

    def __init__(self, server: Server, app: str, version: int, log: ReleaseLog) -> None:
        self.server = server
        self.app = app
        self.version = version
        self.log = log
        self.previous: int | None = None
        self.went_live = False

    def go_live(self, procfile: Procfile, healthcheck: HealthcheckSettings) -> None:
        """Point ``current`` at the release, then run its processes; a web process that does
        not answer fails the release (``revert`` then goes back)."""
        self.previous = current_version(self.server, self.app)
        # recorded before the swap: a worker that dies from here until the check passed
        # leaves a release that recovery hands back from, never one it calls succeeded
        self.server.ledger.update(self.app, self.version, golive=GoLive.CHECKING.value,
                                  golive_previous=self.previous)
        self._point_current_at(self.version)
        faults.point("went-live")
        self.went_live = True
        systemd = manager()
        if systemd is None:
            if procfile.processes:
                self._say_no_manager()
            self._passed()
            return
        remove_file(self.server.layout.no_manager_said(self.app))  # a later loss is news
        route = switchover.route_for(self.server, self.app, self.version)
        if route is not None:
            failure = switchover.switch(self.server, systemd, self.app, route, healthcheck,
                                        self.log)
        else:
            failure = self._run_and_check(systemd, self.version, healthcheck)
            switchover.leave(self.server, self.app, self.log)  # was routed: to its own ports
            if failure is None and "web" in procfile.processes:
                self._say_no_route()
                switchover.follow_in_place(self.server, self.log)
        if failure is None:
            self._passed()
            return
        raise ReleaseFailure(Reason.WEB_CHECK_FAILED, f"the release phase of v{self.version} "
                             "had already run: what it changed (migrations, data) stays applied")

    def _run_and_check(self, systemd: Systemd, version: int, healthcheck: HealthcheckSettings,
                       going_back: bool = False) -> str | None:
        """(Re)start vN's processes and check its web: None, or why it failed (the process's
        last lines, from this run only, are in the log)."""
        mark = log_mark(self.server, systemd, self.app)  # lines after it are this run's
        try:
            running = apply(self.server, systemd, self.app, version)
        except GitdeployError as exc:
            why = f"starting the processes failed: {exc}"
            self.log.warn(why)
            return why
        if going_back:
            self.log.header(f"Went back to v{version}: its processes were restarted")
        elif running:
            self.log.header(f"Restarted {', '.join(p.name for p in running)}")
        checked = check_web(systemd, self.app, running, healthcheck)
        if checked is None:
            return None
        process, why = checked
        self.log.warn(why)
        self.log.warn(f"last lines of {process.name}:")
        for line in last_lines(self.server, systemd, self.app, process.name, mark):
            self.log.line(line)
        return why

    def _say_no_manager(self) -> None:
        """Once per app, and never when the operator turned systemd off: a pusher cannot
        change it, so repeating it on every release is noise."""
        if os.environ.get("GITDEPLOY_SYSTEMD") == "off":
            return
        said = self.server.layout.no_manager_said(self.app)
        if not said.exists():
            self.log.warn(NO_MANAGER + "; said once for this app")
            atomic_write(said, b"")

    def _say_no_route(self) -> None:
        """Once per app: its web runs on its ports, and no domain reaches it."""
        said = self.server.layout.no_route_said(self.app)
        if said.exists() or (frontdoor.enabled(self.server) and
                             frontdoor.hosts(self.server, self.app)):
            return
        if not frontdoor.enabled(self.server):
            how = ("nginx is not set up as the front door (gitdeploy setup installs it; "
                   "see README, 'The front door')")
        else:
            how = (f"{self.app} has no domain (gitdeploy domains:add -a {self.app} HOST, or a "
                   "server domain: gitdeploy settings:set domain=example.com)")
        self.log.warn(f"nothing routes a domain to {self.app}'s web, which listens on its "
                      f"port only: {how}; said once for this app")
        atomic_write(said, b"")

    def _passed(self) -> None:
        self.server.ledger.update(self.app, self.version, golive=GoLive.PASSED.value)
        faults.point("checked")

    def is_live(self) -> bool:
        return self.went_live and current_version(self.server, self.app) == self.version

    def _point_current_at(self, version: int) -> None:
        layout = self.server.layout
        swap_symlink(layout.current_env(self.app), f"releases/v{version}.env")
        faults.point("between-swaps")
        swap_symlink(layout.current(self.app), f"releases/v{version}")

    def revert(self) -> str:
        """Hand ``current`` back to the release before (or to none), run its processes and
        check its web again. Returns what is live now, as a sentence."""
        previous = self.previous
        if previous is None:
            remove_file(self.server.layout.current(self.app))
            remove_file(self.server.layout.current_env(self.app))
        else:
            self._point_current_at(previous)
        systemd = manager()
        route = routes.web_route(self.server.ledger, self.app)
        switched = route is not None and route.release == self.version
        if systemd is not None and not switched:
            switchover.discard(systemd, self.app, self.version)  # started, never routed to
        if previous is None:
            if systemd is not None:
                self._stop_all(systemd)
            switchover.leave(self.server, self.app, self.log)
            return "no release is live"
        if systemd is None:
            return f"v{previous} is still live"
        if not switched and switchover.route_for(self.server, self.app, self.version):
            return f"v{previous} is still live"  # the front door never left its web
        back = switchover.route_for(self.server, self.app, previous)
        if back is not None:
            failure = switchover.switch(self.server, systemd, self.app, back,
                                        self._healthcheck_of(previous), self.log)
            if failure is not None:
                return f"v{previous} is live but its web check failed too: {failure}"
            return f"v{previous} is still live"
        failure = self._run_and_check(systemd, previous, self._healthcheck_of(previous),
                                      going_back=True)
        switchover.leave(self.server, self.app, self.log)
        if failure is not None:
            return f"v{previous} is live but its web check failed too: {failure}"
        return f"v{previous} is still live"

    def _stop_all(self, systemd: Systemd) -> None:
        try:
            stop_all(self.server, systemd, self.app)
        except GitdeployError as exc:
            self.log.warn(f"stopping the app's processes failed: {exc}")
        else:
            self.log.header("Stopped the app's processes: no earlier release to go back to")

    def _healthcheck_of(self, version: int) -> HealthcheckSettings:
        """The web check vN went live with (its gitdeploy.yml; defaults if it has none)."""
        directory = self.server.layout.release_dir(self.app, version)
        try:
            return parse_settings(read_regular_file(directory, FILENAME)).healthcheck
        except (SettingsError, OSError):
            return HealthcheckSettings()

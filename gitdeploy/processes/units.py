"""systemd units for an app's processes, rendered from templates. Pure: values in, files out.

One service per process type and instance (``gitdeploy-shop.web.1.service``) and one target
per app (``gitdeploy-shop.target``) that wants them all, so the app starts and stops as one.
Each service runs its Procfile command with ``/bin/sh -c`` in the app's sandbox of its
``current`` release, with the live release's env file, and ``PORT``/``DYNO`` of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gitdeploy.sandbox.bwrap import Sandbox

DEFAULT_SCALE = 1
STOP_TIMEOUT = 30
MAX_SCALE = 50
PORT_BLOCK = 100  # ports reserved per app: web.N listens on base + N - 1


@dataclass(frozen=True)
class UnitFile:
    name: str
    text: str


@dataclass(frozen=True)
class Process:
    type: str
    instance: int
    command: str
    port: int | None
    release: int | None = None  # runs release vN's files (behind the front door), not current

    @property
    def name(self) -> str:
        return f"{self.type}.{self.instance}"


def unit_prefix(app: str) -> str:
    return f"gitdeploy-{app}."


def target_name(app: str) -> str:
    return f"gitdeploy-{app}.target"


def worker_unit(app: str, version: int) -> str:
    """The transient unit a release's worker runs in (not under the app's unit prefix: the
    app's unit files are synced by prefix, and this one has none)."""
    return f"gitdeploy-release-{app}-v{version}.service"


def service_name(app: str, process: Process) -> str:
    """``gitdeploy-shop.web.1.service``; ``gitdeploy-shop.web.1.v5.service`` for an instance
    bound to its release, so two releases' instances can run side by side."""
    bound = f".v{process.release}" if process.release is not None else ""
    return f"gitdeploy-{app}.{process.type}.{process.instance}{bound}.service"


def web_port(config: Mapping[str, str], allocated: int) -> int:
    """web.1's port: the app's own PORT config var if it is a port number, else allocated."""
    value = config.get("PORT", "")
    if value.isascii() and value.isdigit() and 1 <= int(value) <= 65535 - MAX_SCALE:
        return int(value)
    return allocated


def processes(types: Mapping[str, str], scale: Mapping[str, int], port: int) -> list[Process]:
    """Every instance to run: each Procfile type at its scale (default 1); web gets PORTs."""
    found = []
    for kind, command in types.items():
        for instance in range(1, scale.get(kind, DEFAULT_SCALE) + 1):
            found.append(Process(kind, instance, command,
                                 port + instance - 1 if kind == "web" else None))
    return found


def escape_exec_argument(text: str) -> str:
    """One double-quoted ExecStart= argument that systemd turns back into exactly ``text``:
    backslashes, quotes and line breaks are C-escaped (a carriage return in a Procfile command
    would otherwise end the unit file's line), '%' (specifiers) and '$' (variables) doubled."""
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r")
               .replace("\n", "\\n"))
    return '"' + escaped.replace("%", "%%").replace("$", "$$") + '"'


def escape_path(path: Path | str) -> str:
    """A path in a unit setting: only '%' means something there."""
    text = str(path)
    if any(c in text for c in "\n\r"):
        raise ValueError(f"a unit cannot name a path with a line break: {text!r}")
    return text.replace("%", "%%")


def exec_start(process: Process, sandbox: Sandbox | None = None,
               env_binary: str = "/usr/bin/env") -> str:
    """``env PORT=.. DYNO=.. /bin/sh -c "CMD"`` in the app's sandbox: env sets them after
    EnvironmentFile= would have overridden an Environment= line. Under systemd the sandbox
    does not die with its parent: systemd stops the unit itself, SIGTERM to every process
    of its cgroup, the app inside the sandbox included."""
    assignments = [f"DYNO={process.name}"]
    if process.port is not None:
        assignments.insert(0, f"PORT={process.port}")
    argv = [env_binary, *assignments, "/bin/sh", "-c", process.command]
    if sandbox is not None:
        argv = sandbox.argv(argv, env_fd=0, die_with_parent=False)
    return " ".join(escape_exec_argument(arg) for arg in argv)


def _fill(template: str, values: Mapping[str, str]) -> str:
    for key, value in values.items():
        template = template.replace(f"@{key}@", value)
    return template


def target(app: str, wants: list[str], template: str) -> UnitFile:
    return UnitFile(target_name(app), _fill(template, {"APP": app, "WANTS": " ".join(wants)}))


def services(
    app: str,
    plan: list[Process],
    *,
    workdir: Path,
    env_file: Path,
    log_dir: Path | None,
    service_template: str,
    sandbox: Sandbox | None = None,
    user: str | None = None,
) -> list[UnitFile]:
    """One service unit per process; output to ``log_dir/TYPE.N.log``, or to the journal if
    None. ``sandbox``: where the commands run (None: the shared-trust mode); ``user``: the
    account they run as under the system manager (User=). ``target`` wants them all."""
    target = target_name(app)
    units = []
    for process in plan:
        if log_dir is None:
            output = "StandardOutput=journal\nStandardError=inherit"
        else:
            log = escape_path(log_dir / f"{process.name}.log")
            output = f"StandardOutput=append:{log}\nStandardError=inherit"
        units.append(UnitFile(service_name(app, process), _fill(service_template, {
            "APP": app,
            "PROCESS": process.name,
            "TARGET": target,
            "WORKDIR": escape_path(workdir),
            # sandboxed, the app's environment is bubblewrap's --args on stdin: systemd must
            # not set it on bubblewrap's own process, on the host
            "ENVIRONMENT": (f"StandardInput=file:{escape_path(env_file)}" if sandbox else
                            f"EnvironmentFile={escape_path(env_file)}"),
            "EXEC": exec_start(process, sandbox),
            "USER": f"User={user}" if user else "",
            "STOP_TIMEOUT": str(STOP_TIMEOUT),
            "OUTPUT": output,
            "SYSLOG_ID": f"gitdeploy-{app}.{process.name}",
        })))
    return units

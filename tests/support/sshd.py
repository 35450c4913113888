"""A real, private OpenSSH server on 127.0.0.1 for integration tests (forced commands, git push).

start_sshd() -> SshServer; authorize(user, 'command="...",restrict KEY'); server.stop() in teardown.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

from tests.support import unavailable

SSHD = "/usr/sbin/sshd"
POLICY_RC_D = "/usr/sbin/policy-rc.d"
SYSTEM_SSHD_PID = "/run/sshd.pid"
APT_TIMEOUT = 900.0
START_TIMEOUT = 15.0


def _missing_packages() -> list[str]:
    missing = [] if os.access(SSHD, os.X_OK) else ["openssh-server"]
    if not (shutil.which("ssh") and shutil.which("ssh-keygen")):
        missing.append("openssh-client")
    return missing


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    argv = ["apt-get", "-o", "DPkg::Lock::Timeout=300", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT)


def _stop_system_sshd(pid_before: str | None) -> None:
    """Kill a system sshd that a package postinst started despite policy-rc.d (port 22)."""
    with contextlib.suppress(OSError, ValueError):
        with open(SYSTEM_SSHD_PID) as f:
            pid_text = f.read().strip()
        if pid_text == pid_before:
            return
        with open(f"/proc/{int(pid_text)}/cmdline", "rb") as f:
            if b"sshd" in f.read():
                os.kill(int(pid_text), signal.SIGTERM)


def ensure_openssh() -> None:
    """Install openssh-server/-client with apt when missing, without leaving a system sshd."""
    missing = _missing_packages()
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        unavailable(f"{', '.join(missing)} missing and cannot be installed (needs root and apt)")
    pid_before: str | None = None
    with contextlib.suppress(OSError), open(SYSTEM_SSHD_PID) as f:
        pid_before = f.read().strip()
    made_policy = not os.path.exists(POLICY_RC_D)
    if made_policy:  # tell invoke-rc.d/deb-systemd-invoke not to start services
        with open(POLICY_RC_D, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(POLICY_RC_D, 0o755)
    try:
        install = ("install", "-y", "--no-install-recommends", *missing)
        result = _apt(*install)
        if result.returncode != 0 and _missing_packages():
            _apt("update")
            result = _apt(*install)
    finally:
        if made_policy:
            os.unlink(POLICY_RC_D)
        _stop_system_sshd(pid_before)
    # A failing postinst (no systemd as PID 1) still counts once the binaries are there.
    if _missing_packages():
        unavailable(
            f"apt-get install {' '.join(missing)} failed:\n{result.stdout[-2000:]}"
            f"\n{result.stderr[-2000:]}"
        )


def _keygen(path: str, comment: str) -> str:
    argv = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]
    subprocess.run(argv, check=True, capture_output=True, timeout=30)
    with open(path + ".pub") as f:
        return f.read().strip()


def make_client_key(directory: str, name: str) -> tuple[str, str]:
    """Create an ed25519 key without passphrase; return (private_key_path, public_key_line)."""
    path = os.path.join(directory, name)
    return path, _keygen(path, name)


def authorize(user: str, line: str) -> None:
    """Append one line to ~user/.ssh/authorized_keys with the ownership StrictModes requires."""
    pw = pwd.getpwnam(user)
    ssh_dir = os.path.join(pw.pw_dir, ".ssh")
    os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
    os.chown(ssh_dir, pw.pw_uid, pw.pw_gid)
    os.chmod(ssh_dir, 0o700)
    path = os.path.join(ssh_dir, "authorized_keys")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "r+") as f:
        f.seek(0)
        text = f.read()
        f.write(("\n" if text and not text.endswith("\n") else "") + line.rstrip("\n") + "\n")
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, 0o600)


@dataclass
class SshServer:
    port: int
    host_key_pub: str
    log_path: str
    known_hosts_path: str
    workdir: str  # private temp dir (keys, config, log); removed by stop()
    pid_path: str
    _proc: subprocess.Popen[bytes] = field(repr=False)

    def ssh_options(self, identity: str) -> list[str]:
        return [
            "-F", "/dev/null", "-i", identity, "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts_path}",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
        ]  # fmt: skip

    def client_argv(self, user: str, identity: str, *remote_words: str) -> list[str]:
        """ssh argv; the remote words reach the server joined by spaces, unparsed."""
        return ["ssh", "-p", str(self.port), *self.ssh_options(identity), "--",
                f"{user}@127.0.0.1", *remote_words]  # fmt: skip

    def git_ssh_command(self, identity: str) -> str:
        """GIT_SSH_COMMAND value; the port comes from the ssh://user@127.0.0.1:PORT/ URL."""
        return shlex.join(["ssh", *self.ssh_options(identity)])

    def url(self, user: str, path: str = "app") -> str:
        return f"ssh://{user}@127.0.0.1:{self.port}/{path}"

    def log_text(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self) -> None:
        """Terminate sshd (pid from its pidfile), wait for it, remove the temp dir. Idempotent."""
        pid = self._proc.pid
        with contextlib.suppress(OSError, ValueError), open(self.pid_path) as f:
            pid = int(f.read().strip())
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_config(workdir: str, port: int) -> str:
    path = os.path.join(workdir, "sshd_config")
    with open(path, "w") as f:
        f.write(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {workdir}/host_ed25519
PidFile {workdir}/sshd.pid
LogLevel VERBOSE
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
PermitRootLogin no
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
PrintMotd no
PrintLastLog no
LoginGraceTime 30
""")
    return path


def _spawn(workdir: str, port: int) -> subprocess.Popen[bytes] | None:
    """Start `sshd -D`; return it once its pidfile exists (it is listening), None if port taken."""
    config = _write_config(workdir, port)
    log_path = os.path.join(workdir, "sshd.log")
    pid_path = os.path.join(workdir, "sshd.pid")
    with open(log_path, "wb") as log:  # -D: sshd stays our child, so stop() can really wait
        argv = [SSHD, "-D", "-f", config, "-E", log_path]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            with open(log_path, errors="replace") as f:
                log_text = f.read()
            if "Address already in use" in log_text:
                return None
            raise RuntimeError(f"sshd exited with {proc.returncode}:\n{log_text}")
        with contextlib.suppress(OSError), open(pid_path) as f:
            if f.read().strip() == str(proc.pid):
                return proc
        time.sleep(0.02)
    proc.kill()
    proc.wait(timeout=10)
    raise RuntimeError(f"sshd did not start within {START_TIMEOUT}s; see {log_path}")


def start_sshd(workdir: str | None = None) -> SshServer:
    """Start a private sshd on a free 127.0.0.1 port; its temp dir is created inside `workdir`."""
    ensure_openssh()
    if os.geteuid() != 0:
        unavailable("a test sshd that logs in other users needs root")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege-separation directory
    tmp = tempfile.mkdtemp(prefix="gitdeploy-sshd-", dir=workdir)
    proc: subprocess.Popen[bytes] | None = None
    try:
        host_key_pub = _keygen(os.path.join(tmp, "host_ed25519"), "")
        for _ in range(5):
            port = _free_port()
            proc = _spawn(tmp, port)
            if proc is not None:
                break
        else:
            raise RuntimeError("no free port for sshd after 5 attempts")
        known_hosts = os.path.join(tmp, "known_hosts")
        key_type, key_b64 = host_key_pub.split()[:2]
        with open(known_hosts, "w") as f:
            f.write(f"[127.0.0.1]:{port} {key_type} {key_b64}\n")
    except BaseException:
        if proc is not None:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log, pid = os.path.join(tmp, "sshd.log"), os.path.join(tmp, "sshd.pid")
    return SshServer(port, host_key_pub, log, known_hosts, tmp, pid, proc)

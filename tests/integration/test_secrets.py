"""Config values never appear in any process's command line (what `ps` shows every user of
the machine) nor in the operational log; values can be given on stdin instead of argv."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from tests.support.gd import GITDEPLOY, AppRepo, Server, wait_for
from tests.support.procscan import ArgvWatch, argv_holding

MakeApp = Callable[..., AppRepo]

# The release and postdeploy commands of a config change hold still until the test lets go,
# so the test can look at every process while they run. HOLD is a directory under /data: the
# app's data directory, the one place of the host its sandbox sees.
HOLDING = (
    'release: test -z "$HOLD" || { touch "$HOLD/release"; '
    'while [ ! -e "$HOLD/go-release" ]; do sleep 0.02; done; }\n'
    'postdeploy: test -z "$HOLD" || { touch "$HOLD/postdeploy"; '
    'while [ ! -e "$HOLD/go-postdeploy" ]; do sleep 0.02; done; }\n'
)


def test_no_config_value_is_in_any_argv_while_its_release_and_postdeploy_run(
        make_app: MakeApp, server: Server) -> None:
    repo = make_app("app", {"Procfile": HOLDING})
    hold = repo.data / "hold"
    hold.mkdir()
    repo.push()
    server.wait_idle("app")
    token, greeting = "tok-9f8e7d6c5b4a", "plain-value-31337"
    cli = subprocess.Popen(
        [GITDEPLOY, "--root", str(server.root), "config:set", "-a", "app", "HOLD=/data/hold",
         f"API_TOKEN={token}", f"GREETING={greeting}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=server.env)
    try:
        wait_for(lambda: (hold / "release").exists(), 30, what="the release phase")
        during_release = argv_holding(token, greeting)
        (hold / "go-release").touch()
        wait_for(lambda: (hold / "postdeploy").exists(), 30, what="the postdeploy")
        during_postdeploy = argv_holding(token, greeting)
    finally:
        (hold / "go-release").touch()
        (hold / "go-postdeploy").touch()
        output = cli.communicate(timeout=60)[0].decode()
    server.wait_idle("app")
    assert cli.returncode == 0, output
    assert during_release == [] and during_postdeploy == []


def test_a_crash_never_logs_config_values(make_app: MakeApp, server: Server) -> None:
    make_app("app")
    ledger = server.root / "state" / "ledger.sqlite3"
    assert ledger.exists()
    ledger.write_bytes(b"this is not a database" * 100)  # the CLI will crash reading it
    result = server.gd("config:set", "-a", "app", "SMTP_PASS=hunter2-xyz",
                       "GREETING=plain-value-31337", check=False)
    assert result.returncode == 1 and "internal error" in result.stderr
    text = (server.root / "log" / "gitdeploy.jsonl").read_text()
    assert "command.crash" in text
    assert "hunter2-xyz" not in text and "plain-value-31337" not in text
    assert "SMTP_PASS" in text  # the names are kept: they say what was tried


def test_config_set_reads_a_multiline_value_from_stdin(make_app: MakeApp,
                                                       server: Server) -> None:
    repo = make_app("app", {"Procfile": 'release: printf "%s|\\n" "$TLS_KEY"; sleep 1\n'})
    repo.push()
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
    with ArgvWatch("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC") as watch:
        result = server.gd("config:set", "-a", "app", "TLS_KEY", input=pem + "\n")
    assert watch.samples > 10 and watch.hits == set()
    assert "Set TLS_KEY config vars" in result.stdout and "Released v2" in result.stdout
    assert server.gd("config:get", "-a", "app", "TLS_KEY").stdout == pem + "\n"
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in result.stdout  # a KEY: masked


def test_config_set_from_stdin_refuses_what_it_cannot_use(make_app: MakeApp,
                                                          server: Server) -> None:
    make_app("app")
    for args, stdin, message in (
            (("K",), "", "no value on stdin for K"),
            (("K", "L"), "x", "only one KEY"),
            (("K",), "a\0b", "NUL byte"),
            (("1K",), "x", "1K"),
    ):
        result = server.gd("config:set", "-a", "app", *args, input=stdin, check=False)
        assert result.returncode == 2, result
        assert message in result.stderr and "Traceback" not in result.stderr
    assert server.gd("config", "-a", "app", "--json").stdout.strip() == "{}"


def test_config_set_refuses_a_value_that_is_not_utf8(make_app: MakeApp, server: Server) -> None:
    """Once a crash of the worker ("internal error"); bad input is exit 2 and a sentence."""
    make_app("app")
    done = subprocess.run([GITDEPLOY, "--root", str(server.root), "config:set", "-a", "app",
                           b"K=\xff\xfe"], capture_output=True, env=server.env, timeout=60,
                          check=False)
    assert done.returncode == 2, done
    assert b"the value of K is not valid UTF-8 text" in done.stderr
    assert b"Traceback" not in done.stderr

"""The pre-check's connection is made on the host, from a URL the app's config chose: it
must not let that URL read or write host files or spend the deploy user's credentials."""

from __future__ import annotations

import pytest
from psycopg import conninfo

from gitdeploy.database.postgres import DatabaseError, host_side_conninfo


def params(url: str) -> dict[str, object]:
    return conninfo.conninfo_to_dict(host_side_conninfo(url))


def test_file_and_credential_parameters_are_left_out() -> None:
    got = params("postgresql://u:pw@127.0.0.1:5432/db?sslmode=require"
                 "&sslkeylogfile=/etc/nologin&passfile=/root/.pgpass&service=prod"
                 "&sslrootcert=/etc/shadow&krbsrvname=x")
    assert {k: got[k] for k in ("user", "password", "host", "port", "dbname", "sslmode")} == {
        "user": "u", "password": "pw", "host": "127.0.0.1", "port": "5432", "dbname": "db",
        "sslmode": "require"}
    for key in ("sslkeylogfile", "service", "sslrootcert", "krbsrvname"):
        assert key not in got
    # and libpq's defaults that would use the deploy user's own files are turned off
    assert got["passfile"] == "/dev/null" and got["gssencmode"] == "disable"
    assert str(got["sslcert"]).startswith("/nonexistent")


def test_a_socket_only_from_the_directory_app_code_sees() -> None:
    assert params("postgresql://u@/db?host=/run/postgresql&port=5433")["host"] == \
        "/run/postgresql"
    with pytest.raises(DatabaseError, match=r"socket directory /home/deploy/\.s"):
        host_side_conninfo("postgresql://u@/db?host=/home/deploy/.s")
    with pytest.raises(DatabaseError, match="cannot be parsed"):
        host_side_conninfo("postgresql://u@h/db?nosuchparameter=1")

from __future__ import annotations

from typing import Any

import pytest

from gitdeploy.appconfig.environment import postgres_url
from gitdeploy.database.schemadiff import diff


def col(name: str, kind: str = "integer", not_null: bool = False,
        default: str | None = None) -> dict[str, Any]:
    return {"name": name, "type": kind, "not_null": not_null, "default": default}


def snap(tables: dict[str, tuple[str, dict[str, dict[str, Any]]]] | None = None,
         indexes: dict[str, str] | None = None, constraints: dict[str, str] | None = None,
         enums: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "tables": {oid: {"name": name, "kind": "r", "columns": columns}
                   for oid, (name, columns) in (tables or {}).items()},
        "indexes": {k: {"definition": v} for k, v in (indexes or {}).items()},
        "constraints": {k: {"definition": v} for k, v in (constraints or {}).items()},
        "enums": {k: {"values": v} for k, v in (enums or {}).items()},
    }


USERS = {"1": ("public.users", {"1": col("id", not_null=True), "2": col("name", "text")})}


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (snap(USERS), snap(USERS), []),
        (snap(), snap(USERS), [("table_added", "public.users", False)]),
        (snap(USERS), snap(), [("table_dropped", "public.users", True)]),
        (snap(USERS), snap({"1": ("public.people", USERS["1"][1])}),
         [("table_renamed", "public.users", True)]),
        (snap(USERS), snap({"1": ("public.users", {**USERS["1"][1], "3": col("email", "text")})}),
         [("column_added", "public.users.email", False)]),
        (snap(USERS), snap({"1": ("public.users", {**USERS["1"][1],
                                                   "3": col("email", "text", True)})}),
         [("column_added", "public.users.email", True)]),
        (snap(USERS), snap({"1": ("public.users", {**USERS["1"][1],
                                                   "3": col("n", not_null=True, default="0")})}),
         [("column_added", "public.users.n", False)]),
        (snap(USERS), snap({"1": ("public.users", {"1": col("id", not_null=True)})}),
         [("column_dropped", "public.users.name", True)]),
        (snap(USERS), snap({"1": ("public.users", {"1": col("id", not_null=True),
                                                   "2": col("full_name", "text")})}),
         [("column_renamed", "public.users.name", True)]),
        (snap(USERS), snap({"1": ("public.users", {"1": col("id", "bigint", not_null=True),
                                                   "2": col("name", "text")})}),
         [("column_type_changed", "public.users.id", True)]),
        (snap(USERS), snap({"1": ("public.users", {"1": col("id", not_null=True),
                                                   "2": col("name", "text", True)})}),
         [("column_not_null_added", "public.users.name", True)]),
        (snap({"1": ("public.t", {"1": col("a", not_null=True)})}),
         snap({"1": ("public.t", {"1": col("a")})}),
         [("column_not_null_dropped", "public.t.a", False)]),
        (snap({"1": ("public.t", {"1": col("a")})}),
         snap({"1": ("public.t", {"1": col("a", default="1")})}),
         [("column_default_changed", "public.t.a", False)]),
        (snap(indexes={"public.i": "CREATE INDEX i ON t (a)"}), snap(),
         [("index_dropped", "public.i", False)]),
        (snap(), snap(indexes={"public.i": "CREATE INDEX i ON t (a)"}),
         [("index_added", "public.i", False)]),
        (snap(constraints={"public.t.c": "CHECK (a > 0)"}),
         snap(constraints={"public.t.c": "CHECK (a > 1)"}),
         [("constraint_changed", "public.t.c", False)]),
        (snap(enums={"public.mood": {"1": "sad", "2": "ok"}}),
         snap(enums={"public.mood": {"1": "sad", "2": "ok", "3": "happy"}}),
         [("enum_value_added", "public.mood.happy", False)]),
        (snap(enums={"public.mood": {"1": "sad", "2": "ok"}}),
         snap(enums={"public.mood": {"9": "sad"}}),  # recreated without 'ok'
         [("enum_value_dropped", "public.mood.ok", True)]),
        (snap(enums={"public.mood": {"1": "sad"}}), snap(enums={"public.mood": {"1": "blue"}}),
         [("enum_value_renamed", "public.mood.sad", True)]),
        (snap(enums={"public.mood": {"1": "sad"}}), snap(),
         [("enum_dropped", "public.mood", True)]),
    ],
)
def test_diff(before: dict[str, Any], after: dict[str, Any],
              expected: list[tuple[str, str, bool]]) -> None:
    assert [(c.kind, c.object, c.breaking) for c in diff(before, after)] == expected


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("postgres://u:p@h/db", "postgres://u:p@h/db"),
        ("postgresql://h/db", "postgresql://h/db"),
        ("POSTGRES://h/db", "POSTGRES://h/db"),
        ("mysql://h/db", None),
        ("postgres-looking", None),
        ("", None),
    ],
)
def test_postgres_url(value: str, url: str | None) -> None:
    assert postgres_url({"DATABASE_URL": value}, "DATABASE_URL") == url


def test_pgoptions_and_describe() -> None:
    from gitdeploy.database.postgres import describe, pgoptions

    assert pgoptions(None, 5000, 0) == "-c lock_timeout=5000"
    assert pgoptions("-c search_path=app", 5000, 60000) == (
        "-c search_path=app -c lock_timeout=5000 -c statement_timeout=60000")
    assert pgoptions("", 0, 0) == ""
    assert describe("postgres://u:secret@db.example:6543/shop") == "db.example:6543/shop"
    assert describe("postgresql://u:secret@/shop?host=/run/pg") == "/run/pg:5432/shop"

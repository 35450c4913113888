"""What a release phase changed in the database schema, and what of it breaks the old code.

Pure: it compares two catalog snapshots (see postgres.snapshot) and returns changes with
``kind``, ``object``, ``detail`` and ``breaking``. Tables are keyed by OID and columns by
position, so a rename is seen as a rename, not as a drop and an add. Breaking means the
release still serving traffic may use what changed: a dropped or renamed table or column,
a changed column type, NOT NULL on an existing column (or a new NOT NULL column without a
default: the old code's inserts leave it out), a dropped or renamed enum value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

Snapshot = Mapping[str, Any]
SAFE_PATTERN = (
    "Safe pattern: expand -> deploy -> contract. Add the new shape in one release with code "
    "that works with both, deploy the code that stops using the old shape, and remove the "
    "old shape in a later release (or in postdeploy:)."
)


@dataclass(frozen=True)
class Change:
    kind: str
    object: str
    detail: str
    breaking: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _columns(before: Snapshot, after: Snapshot, table: str) -> list[Change]:
    changes = []
    old, new = before["columns"], after["columns"]
    for position in sorted(set(old) | set(new), key=int):
        a, b = old.get(position), new.get(position)
        if a is None:
            blocking = b["not_null"] and b["default"] is None
            changes.append(Change("column_added", f"{table}.{b['name']}",
                                  f"{b['type']}{' NOT NULL' if b['not_null'] else ''}"
                                  + (" without a default: inserts by the old code fail"
                                     if blocking else ""), blocking))
        elif b is None:
            changes.append(Change("column_dropped", f"{table}.{a['name']}", a["type"], True))
        else:
            column = f"{table}.{b['name']}"
            if a["name"] != b["name"]:
                changes.append(Change("column_renamed", f"{table}.{a['name']}",
                                      f"renamed to {b['name']}", True))
            if a["type"] != b["type"]:
                changes.append(Change("column_type_changed", column,
                                      f"{a['type']} -> {b['type']}", True))
            if not a["not_null"] and b["not_null"]:
                changes.append(Change("column_not_null_added", column, "now NOT NULL", True))
            if a["not_null"] and not b["not_null"]:
                changes.append(Change("column_not_null_dropped", column, "now nullable", False))
            if a["default"] != b["default"]:
                changes.append(Change("column_default_changed", column,
                                      f"{a['default'] or 'none'} -> {b['default'] or 'none'}",
                                      False))
    return changes


def _named(kind: str, before: Mapping[str, Any], after: Mapping[str, Any],
           field: str) -> list[Change]:
    """Indexes and constraints: by name, with their definition."""
    changes = []
    for name in sorted(set(before) | set(after)):
        if name not in before:
            changes.append(Change(f"{kind}_added", name, after[name][field], False))
        elif name not in after:
            changes.append(Change(f"{kind}_dropped", name, before[name][field], False))
        elif before[name][field] != after[name][field]:
            changes.append(Change(f"{kind}_changed", name,
                                  f"{before[name][field]} -> {after[name][field]}", False))
    return changes


def _enums(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    changes = []
    for name in sorted(set(before) | set(after)):
        if name not in before:
            values = ", ".join(after[name]["values"].values())
            changes.append(Change("enum_added", name, values, False))
            continue
        if name not in after:
            values = ", ".join(before[name]["values"].values())
            changes.append(Change("enum_dropped", name, values, True))
            continue
        old, new = before[name]["values"], after[name]["values"]
        for oid in old.keys() & new.keys():
            if old[oid] != new[oid]:
                changes.append(Change("enum_value_renamed", f"{name}.{old[oid]}",
                                      f"renamed to {new[oid]}", True))
        kept = {old[oid] for oid in old.keys() & new.keys()} | set(new.values())
        for label in [v for k, v in old.items() if k not in new and v not in kept]:
            changes.append(Change("enum_value_dropped", f"{name}.{label}", "value removed", True))
        known = set(old.values())
        for label in [v for k, v in new.items() if k not in old and v not in known]:
            changes.append(Change("enum_value_added", f"{name}.{label}", "value added", False))
    return changes


def diff(before: Snapshot, after: Snapshot) -> list[Change]:
    """Every change from ``before`` to ``after``, tables first."""
    changes: list[Change] = []
    old_tables, new_tables = before["tables"], after["tables"]
    for oid in sorted(set(old_tables) | set(new_tables), key=int):
        a, b = old_tables.get(oid), new_tables.get(oid)
        if a is None:
            changes.append(Change("table_added", b["name"],
                                  f"{len(b['columns'])} columns", False))
        elif b is None:
            changes.append(Change("table_dropped", a["name"], f"{len(a['columns'])} columns",
                                  True))
        else:
            if a["name"] != b["name"]:
                changes.append(Change("table_renamed", a["name"], f"renamed to {b['name']}",
                                      True))
            changes += _columns(a, b, b["name"])
    changes += _named("index", before["indexes"], after["indexes"], "definition")
    changes += _named("constraint", before["constraints"], after["constraints"], "definition")
    changes += _enums(before["enums"], after["enums"])
    return changes

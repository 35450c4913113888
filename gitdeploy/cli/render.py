"""Turns releases and apps into what users read: tables, JSON objects, ages. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from gitdeploy.model.release import Release
from gitdeploy.model.states import Status


def parse_time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def age(stamp: str, now: datetime) -> str:
    seconds = max(0, int((now - parse_time(stamp)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def when(stamp: str, now: datetime) -> str:
    moment = parse_time(stamp).astimezone(UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC (~ {age(stamp, now)})"


def status_text(release: Release) -> str:
    if release.status is Status.SUCCEEDED:
        text = ""
    elif release.status is Status.FAILED:
        text = f"failed: {release.reason}"
    else:
        text = release.status.value
    if release.postdeploy_status:
        text = f"{text}, postdeploy {release.postdeploy_status}".lstrip(", ")
    return text


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns separated by two spaces; trailing blanks trimmed."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def releases_table(app: str, releases: Sequence[Release], current: int | None,
                   now: datetime) -> str:
    title = f"=== {app} Releases" + (f" - Current: v{current}" if current is not None else "")
    if not releases:
        return f"{title}\n{app} has no releases yet."
    rows = [(r.name, r.description, status_text(r), r.user, when(r.created_at, now))
            for r in releases]
    return "\n".join([title, *table(rows)])


def release_object(release: Release, current: int | None) -> dict[str, Any]:
    """The JSON form of a release (SPEC section 4)."""
    return {
        "version": release.version,
        "name": release.name,
        "status": release.status.value,
        "reason": release.reason,
        "description": release.description,
        "commit": release.commit,
        "current": release.version == current,
        "created_at": release.created_at,
        "started_at": release.started_at,
        "finished_at": release.finished_at,
        "user": release.user,
        "kind": release.kind,
        "postdeploy_status": release.postdeploy_status,
    }


def release_info(release: Release, current: int | None, extra: dict[str, Any]) -> dict[str, Any]:
    info = release_object(release, current)
    info["config_keys"] = sorted(release.config or {})
    info["switched_at"] = release.switched_at  # when the front door sent it traffic
    info.update(extra)
    return info


def info_text(info: dict[str, Any], app: str) -> str:
    lines = [f"=== {app} Release {info['name']}"]
    labels = [
        ("Description", info["description"]),
        ("Status", info["status"] + (f" ({info['reason']})" if info["reason"] else "")),
        ("Current", "yes" if info["current"] else "no"),
        ("Commit", info["commit"] or "-"),
        ("By", info["user"]),
        ("Created", info["created_at"]),
        ("Finished", info["finished_at"] or "-"),
        ("Config vars", ", ".join(info["config_keys"]) or "-"),
        ("Rollback", "eligible" if info.get("rollback_eligible") else
         f"not eligible ({info.get('rollback_note', 'n/a')})"),
    ]
    if info.get("postdeploy_status"):
        labels.append(("Postdeploy", info["postdeploy_status"]))
    if info.get("switched_at"):
        labels.append(("Took traffic", info["switched_at"]))
    width = max(len(label) for label, _ in labels) + 1
    lines += [f"{label + ':':<{width}} {value}" for label, value in labels]
    changes = info.get("changes_since")
    if changes is not None:
        commits = changes["commits"]
        lines.append(f"Changes since v{changes['version']}: "
                     + (f"{len(commits)}{'+' if changes['more'] else ''} commits"
                        if commits else "none (the same commit)"))
        lines += [f"  {c['sha'][:7]}  {c['subject']}  ({c['author']})" for c in commits]
        if changes["more"]:
            lines.append("  ... (older ones: git log in a checkout)")
    return "\n".join(lines)

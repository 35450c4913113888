"""The ledger's schema, as migration steps (SQLite)."""

from __future__ import annotations

# The schema as a list of steps: a database at user_version N has run the first N. A change
# of the schema is a new step at the end, never an edit of an old one.
MIGRATIONS: tuple[str, ...] = (
    """
CREATE TABLE IF NOT EXISTS apps (
    name TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    last_version INTEGER NOT NULL DEFAULT 0,
    initial_config TEXT NOT NULL DEFAULT '{}',
    formation TEXT NOT NULL DEFAULT '{}',
    port_base INTEGER
);
CREATE TABLE IF NOT EXISTS releases (
    app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    description TEXT NOT NULL,
    commit_sha TEXT,
    user TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    config TEXT,
    request TEXT NOT NULL DEFAULT '{}',
    postdeploy_status TEXT,
    schema_changes TEXT,
    PRIMARY KEY (app, version)
);
CREATE TABLE IF NOT EXISTS keys (
    name TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    admin INTEGER NOT NULL,
    apps TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL
);
""",
    # how far a release got in going live, and what was live before it (recovery hands
    # `current` back to that when the worker died before the web check passed)
    """
ALTER TABLE releases ADD COLUMN golive TEXT;
ALTER TABLE releases ADD COLUMN golive_previous INTEGER
""",
    # the server's network settings for builds (builds:env:set): proxies, CA bundles, indexes
    """
CREATE TABLE IF NOT EXISTS build_env (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
)
""",
    # the front door: server settings (domain, proxy ports), each app's domains, which
    # release's web instances the proxy routes an app to, and when a release took traffic
    """
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS domains (
    host TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    created_at TEXT NOT NULL
);
ALTER TABLE apps ADD COLUMN web TEXT;
ALTER TABLE releases ADD COLUMN switched_at TEXT
""",
)
SCHEMA_VERSION = len(MIGRATIONS)

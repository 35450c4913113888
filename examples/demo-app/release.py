"""The demo app's release phase: apply new SQL migrations to $DATABASE_PATH, each in a
transaction, with progress as it goes. A failing migration exits 1 and changes nothing."""

import os
import sqlite3
import sys
import time
from pathlib import Path

database = os.environ["DATABASE_PATH"]
print(f"--- Migrating {Path(database).name} for {os.environ['GITDEPLOY_RELEASE']}")
db = sqlite3.connect(database, isolation_level=None)
db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY)")
applied = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
for path in sorted(Path("migrations").glob("*.sql")):
    if path.stem in applied:
        print(f"== {path.stem}: already applied")
        continue
    print(f"== {path.stem}: migrating")
    for percent in (25, 50, 75):
        time.sleep(0.4)
        print(f"   {percent}%")
    try:
        db.execute("BEGIN")
        for statement in path.read_text().split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute("INSERT INTO schema_migrations VALUES (?)", (path.stem,))
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        db.execute("ROLLBACK")
        print(f"== {path.stem}: FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
    print(f"== {path.stem}: migrated")
print("--- Done")

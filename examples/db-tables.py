"""Print the demo database's tables and applied migrations."""

import sqlite3
import sys

db = sqlite3.connect(sys.argv[1])
tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
applied = [row[0] for row in db.execute("SELECT version FROM schema_migrations ORDER BY 1")]
print(f"tables: {', '.join(tables)}")
print(f"migrations applied: {', '.join(applied)}")

"""What gitdeploy keeps under ROOT, and the safe ways to read and write it: the layout, the
ledger (SQLite), flock(2) locks, crash-safe file primitives (atomic write, symlink swap),
release logs and their mirror to a reader, the operational log, and what is live.

Adapters over the filesystem and SQLite. Imports ``model``, ``appconfig`` and ``errors``.
"""

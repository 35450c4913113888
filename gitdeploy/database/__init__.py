"""The app's PostgreSQL as the release phase sees it: connecting (``postgres``), the guard
that serializes release phases and sets lock_timeout (``guard``), and the schema diff.
An adapter: imports appconfig, model and below."""

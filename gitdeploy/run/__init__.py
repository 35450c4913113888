"""Running a user's command (a build, the release command, postdeploy): ``runner`` starts it
in the app's sandbox, streams its lines with a timeout and stops everything it started. An
adapter: imports appconfig, model, sandbox and below."""

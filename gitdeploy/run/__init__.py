"""Running a user's command (a build, the release command, postdeploy): ``runner`` streams
its lines with a timeout and kills its whole process tree; ``guard`` is the small process
that contains it. An adapter: imports appconfig, model and below."""

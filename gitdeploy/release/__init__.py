"""The release worker and its steps, from build to verdict: ``prepare`` (files from a commit,
a slug or the live release; ``materialize`` links unchanged files), ``slug``, the release
``phase``, ``golive`` (swap and web check, or go back), ``postdeploy``, ``prune``, and
``recovery`` of releases whose worker died. Imports processes, run, database, git, store
and below; never events, access or cli."""

"""What creates releases and manages apps: ``launch`` records a pending release and starts
its worker; deploy, config changes, rollback and promotion ask it to; the app lifecycle
(create, destroy). Imports release, processes and below; never access or cli."""

"""The front door: nginx in front of every app's web instances. Rendering its config
(``render``, pure), and checking, installing and reloading it (``nginx``). An adapter:
imports store, appconfig, model; never processes, release or events."""

"""An app's long-running processes under systemd: unit rendering (``units``), the manager
(``systemd``), port blocks, applying a release's processes, the web check, and the process
commands (``control``). An adapter: imports store, appconfig, model; never release or events."""

"""Who may do what, over ssh: parsing ``$SSH_ORIGINAL_COMMAND`` and the per-key rights
(``sshcommand``), the forced command's dispatch, keys and ``authorized_keys``, server setup,
and client mode (running a command on the server of a git remote). An entry point beside
cli: imports events and below, never cli (the CLI hands its parser and runner in)."""

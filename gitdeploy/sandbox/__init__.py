"""Where app code runs: a bubblewrap sandbox per command and process.

Inside it the app sees its release's files at ``/app`` (read-only, except for the build,
which writes its own new release), its data directory at ``/data``, read-only system
directories, its own ``/tmp``, ``/proc`` and process namespace, and the host's network;
never the server root, another app, another release, the ledger, logs or keys. Without a
sandbox (the operator's explicit shared-trust mode) commands run on the host as before.
"""

"""The ``gitdeploy`` command: the parser (``parser``), one handler module per topic (apps,
releases, config, processes, keys, internal), rendering to text and JSON (``render``), the
post-receive hook, and ``main``. The top of the import graph: may import anything, and
nothing imports it. Handlers parse, call and render; only ``main`` prints errors."""

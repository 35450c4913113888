"""What the app and its operator configure: the Procfile, ``gitdeploy.yml``, config vars, the
environment app code runs with, and which values are secrets (masking).

Pure: bytes and mappings in, values out. Imports ``model`` and ``errors`` only.
"""

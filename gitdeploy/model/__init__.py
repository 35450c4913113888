"""The domain: a release and its states, failure reasons, names, who may act, what to keep.

Pure: values in, data out. No files, no processes, no clock but ``release.now``. It imports
nothing of gitdeploy but ``errors``; every other room may import it.
"""

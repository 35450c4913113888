"""The app's bare repository: reading refs, trees and commits (``repo``) and writing a
commit's files into a directory (``export``). An adapter: imports only errors, faults and
the model; knows nothing of releases."""

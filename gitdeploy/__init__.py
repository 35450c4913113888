"""gitdeploy: git-push deploys with a Heroku-style release phase."""

__version__ = "0.1.0"

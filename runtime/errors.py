"""Errors the runtime raises; each message names the file, tensor or package at fault."""


class EdgeCVError(Exception):
    """Base class: caught by the CLI and printed without a traceback (exit code 2)."""


class ArtifactError(EdgeCVError):
    """The artifact (or its manifest) is missing, corrupt, truncated or does not match its hash."""


class InputError(EdgeCVError):
    """A feed at ``run`` has the wrong name, shape or dtype."""


class BackendUnavailable(EdgeCVError):
    """The backend's package is not installed; the message says which extra installs it."""

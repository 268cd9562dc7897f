"""Errors the runtime raises; each message names the file, tensor or package at fault."""

# The base class lives in the lowest layer (edgecv.devices imports nothing from the runtime); one class.
from edgecv.devices.errors import EdgeCVError

__all__ = ["EdgeCVError", "ArtifactError", "InputError", "BackendUnavailable"]


class ArtifactError(EdgeCVError):
    """The artifact (or its manifest) is missing, corrupt, truncated or does not match its hash."""


class InputError(EdgeCVError):
    """A feed at ``run`` has the wrong name, shape or dtype."""


class BackendUnavailable(EdgeCVError):
    """The backend's package is not installed; the message says which extra installs it."""

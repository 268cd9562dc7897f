"""The project's base error and the device-profile error.

``EdgeCVError`` lives here, in the lowest layer, so that ``edgecv.devices`` imports nothing from the runtime;
``edgecv.runtime.errors`` re-exports it (one class: the CLI catches it and prints one line, exit 2).
"""


class EdgeCVError(Exception):
    """Base class: caught by the CLI and printed without a traceback (exit code 2)."""


class ProfileError(EdgeCVError):
    """A device profile is missing, unknown or does not follow the schema (the message names file + field)."""

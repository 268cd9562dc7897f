"""The one error class of multi-object tracking: bad detections, malformed MOTChallenge files, unknown variants.

An :class:`~edgecv.runtime.errors.EdgeCVError`, so the CLI prints its message as one line and exits 2."""
from __future__ import annotations

from ..errors import EdgeCVError

__all__ = ["MotError"]


class MotError(EdgeCVError):
    """Bad multi-object tracking input; the message names the file and line, the array or the variant."""

"""What the propagation loop shares: its error and warning types, and the frame check."""
from __future__ import annotations

import numpy as np

from ..errors import EdgeCVError
from ..track.base import as_bgr as _as_bgr


class PropagateError(EdgeCVError):
    """Bad propagation input: a missing or unreadable video, a bad key interval, an unwritable output, ..."""


class PropagateWarning(UserWarning):
    """A recoverable problem in the input (a frame that could not be decoded, a change of frame size)."""


def as_bgr(frame, index: int | None = None) -> np.ndarray:
    """Check a frame and return it as a contiguous 3-channel uint8 image (grayscale is expanded, alpha dropped);
    the tracking loop's check, raising :class:`PropagateError`."""
    return _as_bgr(frame, index, PropagateError)

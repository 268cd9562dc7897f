"""What the propagation loop shares: its error and warning types, and the frame check."""
from __future__ import annotations

import numpy as np

from ..errors import EdgeCVError


class PropagateError(EdgeCVError):
    """Bad propagation input: a missing or unreadable video, a bad key interval, an unwritable output, ..."""


class PropagateWarning(UserWarning):
    """A recoverable problem in the input (a frame that could not be decoded, a change of frame size)."""


def as_bgr(frame, index: int | None = None) -> np.ndarray:
    """Check a frame and return it as a contiguous 3-channel uint8 image (grayscale is expanded, alpha dropped)."""
    where = f"frame {index}" if index is not None else "frame"
    if frame is None or not hasattr(frame, "shape") or frame.size == 0:
        raise PropagateError(f"{where} is empty")
    if frame.dtype != np.uint8:
        raise PropagateError(f"{where} has dtype {frame.dtype}; expected uint8 pixels")
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        frame = np.repeat(frame.reshape(frame.shape[0], frame.shape[1], 1), 3, axis=2)
    elif frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise PropagateError(f"{where} has shape {frame.shape}; expected H×W, H×W×1, H×W×3 or H×W×4")
    if frame.shape[2] == 4:
        frame = frame[:, :, :3]
    return np.ascontiguousarray(frame)

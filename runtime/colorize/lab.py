"""Lab colour conventions shared by the colorizer's training side, exporter and runtime (numpy + OpenCV).

OpenCV's float Lab: L in [0, 100], a and b roughly in [-110, 110] for sRGB. The graphs see them
normalised: ``L_n = L / 50 - 1`` (so [-1, 1]) and ``ab_n = ab / 110``. Predicted ab are carried at half
the working size (chroma subsampling, as 4:2:0 video does) and put back with the frame's own
full-resolution L, so edges stay as sharp as the grey input.
"""
from __future__ import annotations

import numpy as np

L_SCALE = 50.0
AB_SCALE = 110.0


def bgr_to_lab(bgr: np.ndarray) -> np.ndarray:
    """uint8 BGR (H, W, 3) → float32 Lab (H, W, 3)."""
    import cv2

    return cv2.cvtColor(bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)


def lab_to_bgr(lab: np.ndarray) -> np.ndarray:
    """float32 Lab (H, W, 3) → uint8 BGR (out-of-gamut colours clipped)."""
    import cv2

    bgr = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2BGR)
    return np.clip(bgr * 255.0 + 0.5, 0, 255).astype(np.uint8)


def gray_l(frame: np.ndarray) -> np.ndarray:
    """The L channel (float32, [0, 100]) of a frame given as BGR, BGRA or single-channel grey uint8."""
    import cv2

    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        g = frame.reshape(frame.shape[:2])
        return bgr_to_lab(cv2.cvtColor(g, cv2.COLOR_GRAY2BGR))[..., 0]
    if frame.shape[2] == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return bgr_to_lab(frame)[..., 0]


def normalize_l(l_chan: np.ndarray) -> np.ndarray:
    return (l_chan / L_SCALE - 1.0).astype(np.float32)


def normalize_ab(ab: np.ndarray) -> np.ndarray:
    return (ab / AB_SCALE).astype(np.float32)


def merge(l_chan: np.ndarray, ab_n: np.ndarray) -> np.ndarray:
    """Full-resolution L ([0, 100], (H, W)) + normalised ab at any size ((2, h, w) or (h, w, 2)) → BGR uint8."""
    import cv2

    if ab_n.ndim == 3 and ab_n.shape[0] == 2:
        ab_n = ab_n.transpose(1, 2, 0)
    h, w = l_chan.shape
    ab = cv2.resize(np.ascontiguousarray(ab_n, dtype=np.float32), (w, h), interpolation=cv2.INTER_LINEAR) * AB_SCALE
    return lab_to_bgr(np.dstack([l_chan, ab]))


def chroma(bgr: np.ndarray) -> float:
    """Mean chroma (√(a² + b²), Lab units) of a colour image: ≈0 for a grey image stored as colour."""
    lab = bgr_to_lab(bgr)
    return float(np.sqrt(lab[..., 1] ** 2 + lab[..., 2] ** 2).mean())

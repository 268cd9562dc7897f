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


_GREY_L = None


def grey_u8(frame: np.ndarray) -> np.ndarray:
    """A frame given as BGR, BGRA or single-channel uint8 → its grey (Rec. 601 luma) uint8 (H, W)."""
    import cv2

    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        return frame.reshape(frame.shape[:2])
    return cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY)


def grey_to_l(grey: np.ndarray) -> np.ndarray:
    """L ([0, 100], float32) of a grey uint8 image by a 256-entry table: the same values :func:`gray_l` gives
    for a grey pixel, without a full-frame Lab conversion."""
    global _GREY_L
    if _GREY_L is None:
        ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
        _GREY_L = np.ascontiguousarray(bgr_to_lab(ramp)[0, :, 0])
    return _GREY_L[grey]


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


def merge_luma(grey: np.ndarray, ab_n: np.ndarray) -> np.ndarray:
    """The fast form of :func:`merge` for the runtime: grey uint8 (H, W) + normalised ab at the model's size →
    BGR uint8 at (H, W). The colour is formed at the ab size (Lab → BGR there), its chroma carried as Cr/Cb and
    upsampled, and the full-resolution luma is the grey frame itself (4:2:0 video's split), so the only
    full-size conversion is one 8-bit YCrCb → BGR instead of a float Lab → BGR (about 10× cheaper at 720×528)."""
    import cv2

    if ab_n.ndim == 3 and ab_n.shape[0] == 2:
        ab_n = ab_n.transpose(1, 2, 0)
    h, w = grey.shape
    ah, aw = ab_n.shape[:2]
    g_small = cv2.resize(grey, (aw, ah), interpolation=cv2.INTER_AREA)
    small = lab_to_bgr(np.dstack([grey_to_l(g_small), ab_n.astype(np.float32) * AB_SCALE]))
    crcb = cv2.resize(cv2.cvtColor(small, cv2.COLOR_BGR2YCrCb)[..., 1:], (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(np.dstack([grey, crcb]), cv2.COLOR_YCrCb2BGR)


def chroma(bgr: np.ndarray) -> float:
    """Mean chroma (√(a² + b²), Lab units) of a colour image: ≈0 for a grey image stored as colour."""
    lab = bgr_to_lab(bgr)
    return float(np.sqrt(lab[..., 1] ** 2 + lab[..., 2] ** 2).mean())

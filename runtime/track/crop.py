"""Crops in SiamFC geometry: a square around a point, optionally rotated, padded with the mean colour.

Shared by the runtime trackers and the training pairs (``edgecv.train.pairs``), so that what a model
saw in training is exactly what it sees on device.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

CONTEXT = 0.5  # context margin: the template crop side is sqrt((w + p)(h + p)), p = CONTEXT · (w + h)


def crop_side(w: float, h: float, context: float = CONTEXT) -> float:
    """Side of the SiamFC template crop for a w×h target (the target plus a context margin)."""
    p = (w + h) * context
    return math.sqrt((w + p) * (h + p))


def crop_matrix(cx: float, cy: float, side: float, out: int, angle: float = 0.0, aspect: float = 1.0) -> np.ndarray:
    """The 2×3 affine map from image to crop pixels of :func:`affine_crop` (same arguments)."""
    m = cv2.getRotationMatrix2D((float(cx), float(cy)), float(angle), out / side)
    m[:, 2] += (out - 1) / 2 - np.array([cx, cy])
    if aspect != 1.0:  # anisotropic: stretch x by ``aspect`` about the crop centre
        a = np.array([[aspect, 0, (1 - aspect) * (out - 1) / 2], [0, 1, 0], [0, 0, 1]])
        m = (a @ np.vstack([m, [0, 0, 1]]))[:2]
    return m


def affine_crop(img: np.ndarray, cx: float, cy: float, side: float, out: int, angle: float = 0.0,
                aspect: float = 1.0, pad=None) -> tuple[np.ndarray, np.ndarray]:
    """Crop a ``side``-pixel square centred at (cx, cy), rotated by ``angle`` degrees (counter-clockwise,
    OpenCV's convention), resized to ``out``×``out``. Outside the image the crop takes the image's mean
    colour (or ``pad``). Returns the crop and the 2×3 affine map from image to crop pixels."""
    m = crop_matrix(cx, cy, side, out, angle, aspect)
    if pad is None:
        pad = img.reshape(-1, img.shape[-1]).mean(0)
    crop = cv2.warpAffine(img, m, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=tuple(float(v) for v in np.atleast_1d(pad)))
    return crop, m


def to_nchw(crop_bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 crop → (1, 3, H, W) RGB float32 in [0, 1], the trackers' input format.
    OpenCV's blob maker does the swap, scale and transpose in one pass: the same values as the numpy
    chain, 3× faster (0.24 vs 0.72 ms for a 255² crop here), which matters beside a 2 ms search graph."""
    if crop_bgr.ndim != 3 or crop_bgr.shape[2] != 3:
        raise ValueError(f"to_nchw: expected an H×W×3 BGR crop, got shape {crop_bgr.shape}")
    return cv2.dnn.blobFromImage(crop_bgr, 1.0 / 255.0, swapRB=True)

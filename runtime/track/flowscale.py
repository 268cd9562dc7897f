"""A target's size change between two frames, per axis, from pyramidal Lucas-Kanade on points inside its box.

Why. A Siamese box head regresses the box from one search crop; where its training never showed a shape
change (a board turning towards the camera, a figure standing up), it keeps the template's shape. Points
tracked from frame to frame inside the box see the change directly: the spread of the points along x grows
by the width's factor, along y by the height's (Median Flow's scale estimate, Kalal et al. 2010, taken per
axis). A tracker uses it as the prediction of the box size that its head then corrects.

Cost: two ``roi``² grey crops (one per frame, the same frame-pixel side), a forward and a backward LK pass on a
grid of points (OpenCV), one median over point pairs; well under a millisecond.
"""
from __future__ import annotations

import cv2
import numpy as np

from .crop import affine_crop

__all__ = ["axis_scale", "reference"]

LK = dict(winSize=(9, 9), maxLevel=2, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))


def _grey(frame, cx, cy, side, out):
    crop, _ = affine_crop(frame, cx, cy, side, out, pad=(128, 128, 128))  # a fixed pad: no per-frame mean
    return cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop


def reference(frame, box, roi: int = 128) -> tuple[np.ndarray, tuple]:
    """What :func:`axis_scale` needs of the earlier frame: its grey ``roi``² crop of twice the box's longer
    side around ``box`` = (cx, cy, w, h), and the box. A copy: the caller's frame buffer may be reused."""
    cx, cy, w, h = box
    return _grey(frame, cx, cy, 2.0 * max(w, h), roi), tuple(float(v) for v in box)


def axis_scale(ref, frame, centre, grid: int = 10, min_points: int = 10,
               max_step: float = 1.25) -> tuple[float, float, int] | None:
    """(x factor, y factor, points used) of the target's size from the earlier frame (``ref``, from
    :func:`reference`) to ``frame``, or None when too few points track reliably (a flat or blurred target,
    an occlusion).

    ``centre`` is the target's centre in ``frame`` (the tracker's new estimate: the two crops are aligned on
    it, so LK only has to find the residual motion). Points: a
    ``grid``×``grid`` lattice over the middle 80% of the box. Kept: points whose forward-backward error is at
    most the median (and under 1 crop pixel); each factor is the median, over point pairs at least a fifth
    of the box apart along that axis, of the ratio of their distances after and before, clipped to
    ``[1/max_step, max_step]``."""
    a, (_, _, w, h) = ref
    roi = a.shape[0]
    side = 2.0 * max(w, h)
    k = roi / side
    b = _grey(frame, centre[0], centre[1], side, roi)
    c = (roi - 1) / 2
    u = np.linspace(-0.4, 0.4, grid)
    p0 = np.stack(np.meshgrid(c + u * w * k, c + u * h * k), -1).reshape(-1, 1, 2).astype(np.float32)
    p1, st1, _ = cv2.calcOpticalFlowPyrLK(a, b, p0, None, **LK)
    if p1 is None:
        return None
    back, st2, _ = cv2.calcOpticalFlowPyrLK(b, a, p1, None, **LK)
    fb = np.linalg.norm((back - p0).reshape(-1, 2), axis=1)
    ok = (st1.ravel() == 1) & (st2.ravel() == 1) & np.isfinite(fb)
    if ok.sum() < min_points:
        return None
    ok &= fb <= min(float(np.median(fb[ok])), 1.0)
    if ok.sum() < min_points:
        return None
    q0, q1 = p0.reshape(-1, 2)[ok].astype(np.float64), p1.reshape(-1, 2)[ok].astype(np.float64)
    i, j = np.triu_indices(len(q0), 1)
    out = []
    for axis, extent in ((0, w * k), (1, h * k)):
        d0, d1 = q0[j, axis] - q0[i, axis], q1[j, axis] - q1[i, axis]
        sel = np.abs(d0) >= 0.2 * extent
        if sel.sum() < min_points:
            return None
        out.append(float(np.clip(np.median(d1[sel] / d0[sel]), 1 / max_step, max_step)))
    return out[0], out[1], int(ok.sum())

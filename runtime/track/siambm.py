"""Siam-BM (He et al. 2018) over SiamFC (or SA-Siam) artifacts: SiamFC's search with angle candidates and a
spatial template mask. Variant: ``siambm-lite0`` (``params/siambm_lite0.py``; it runs ``siamfc-lite0``'s graphs;
the stride-8 ``siambm`` over ``sasiam``'s graphs was retired on 2026-12-07, ``registry.RETIRED``)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .base import clip_box
from .registry import default_params
from .siamese_base import SiameseNet
from .siamfc import SiamFCParams, SiamFCTracker

__all__ = ["SiamBMParams", "SiamBMTracker"]


@dataclass
class SiamBMParams(SiamFCParams):
    """Siam-BM (He et al. 2018): scale *and* angle in one pass of 5 candidates — (s, 0), (1/s, 0),
    (1, ±angle_step) and (1, 0) around the current angle — with penalties on leaving scale 1, angle 0.
    ``num_scales`` is not read (the 5 candidates replace the pyramid). Values: ``params/siambm_lite0.py``."""
    angle_step: float                  # radians between the angle candidates
    angle_penalty: float               # multiplies the peak of a turned candidate
    angle_lr: float                    # damped angle update
    mask_ratio: float                  # spatial mask when the target's long/short side ratio exceeds this (≤ 0: off)
    mask_margin: float                 # keep template cells within half the short side + this many cells


class SiamBMTracker(SiamFCTracker):
    """Siam-BM search over SA-Siam (or SiamFC) artifacts: 5 scale/angle candidates in one pass,
    reports a rotated box (``TrackResult.rotated``) and its axis-aligned bounding box."""

    name = "siambm"   # the family; the factory names the variant

    def __init__(self, net: SiameseNet, params: SiamBMParams | None = None):
        if params is None:  # siambm-lite0's values; on stride-8 graphs, their 25×25 map upsampled 8× (as siamfc's)
            params = default_params("siambm-lite0")
            if net.stride != 16:
                params.response_up = default_params("siamfc").response_up
        super().__init__(net, params)
        self.name = "siambm"

    @staticmethod
    def search_passes(params: SiamBMParams) -> float:
        """The 5 scale/angle candidates, every frame."""
        return 5.0

    def _candidates(self):
        p = self.p
        a = math.degrees(p.angle_step)
        s = p.scale_step
        return [(1.0, 0.0, 1.0), (s, 0.0, p.scale_penalty), (1 / s, 0.0, p.scale_penalty),
                (1.0, a, p.angle_penalty), (1.0, -a, p.angle_penalty)]

    def _accept(self, c):
        super()._accept(c)
        self.angle = self.angle + self.p.angle_lr * c["dang"]

    def _prepare_template(self, z, side):
        """Siam-BM's spatial mask: for an elongated target, zero the template feature cells beside it
        along its short side, so the square template's background does not outvote a thin target.
        The template features are an input of the search graph, so the mask costs nothing per frame."""
        self.mask = None
        ratio = max(self.w / self.h, self.h / self.w)
        if self.p.mask_ratio <= 0 or ratio <= self.p.mask_ratio:
            return z
        k = self.net.z_size / side                  # frame → template-crop pixels
        half = 0.5 * min(self.w, self.h) * k        # half the short side in the crop
        # template-crop pixels the correlated kernel covers: half the crop in the stride-8 family (8 of 16 cells),
        # the centre 5 of 9 cells at stride 16 in the lite0 family (the manifest's ``kernel_span``)
        span = float(self.net.geometry.get("kernel_span", (self.net.z_size + 1) / 2))
        out = {}
        for name, t in z.items():
            n = t.shape[-1]
            cell = span / n
            offs = np.abs((np.arange(n) - (n - 1) / 2) * cell)
            keep = (offs <= half + self.p.mask_margin * cell).astype(t.dtype)
            m = keep[None, :] if self.w < self.h else keep[:, None]  # columns for a tall target, rows for a wide one
            m = np.broadcast_to(m, (n, n))
            out[name] = t * m
            self.mask = m
        return out

    def _rotated(self):
        # OpenCV's RotatedRect angle is clockwise in image coordinates; our crop angle is counter-clockwise
        return ((self.cx, self.cy), (self.w, self.h), -self.angle)

    def _box(self):
        if abs(self.angle) < 1e-6:
            return super()._box()
        pts = cv2.boxPoints(self._rotated())
        x0, y0 = pts.min(0)
        x1, y1 = pts.max(0)
        return clip_box((float(x0), float(y0), float(x1 - x0), float(y1 - y0)), self.frame_shape, self.p.min_size)

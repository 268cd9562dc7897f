"""NanoTrack-format trackers (a model edgecv did not train) run by edgecv's loop over exported artifacts.

``edgecv export nanotrack --model DIR`` turns a NanoTrack backbone/head pair (the public V2/V3 models, or any
pair in OpenCV's ``TrackerNano`` contract) into edgecv's template/search graphs (``export/nanotrack.py``);
this family runs them on any backend and precision like edgecv's own trackers, with the shared lost state and
re-detection (``siamese_base``), the boxes file and the annotated video.

Per frame, as NanoTrack's own post-processing (OpenCV's ``tracker_nano.cpp``): the foreground probability (a
softmax over the two class logits), box corners from the distances to each cell's centre, SiamRPN's penalty on
size and aspect change, a Hanning window, the best cell's box, the size updated at ``lr · penalty · score``.
The crop follows NanoTrack's own convention (whole-pixel corners, as OpenCV and pysot cut it; see ``_crop``),
padded with the frame's mean; the one difference from OpenCV is that boxes stay in float.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .crop import affine_crop
from .registry import default_params
from .siamese_base import LostParams, SiameseNet, SiameseTracker, size_change_penalty

__all__ = ["NanoTrackParams", "NanoTrackTracker"]


@dataclass
class NanoTrackParams:
    """NanoTrack's post-processing (values: ``params/nanotrack.py``)."""
    window_influence: float            # Hanning window blended into the penalised score
    size_penalty: float                # k in exp(−k·(size change · ratio change − 1))
    size_lr: float                     # box-size update rate (× the winning cell's score and penalty)
    min_size: float                    # smallest box side, px
    lost: LostParams                   # the lost state


class NanoTrackTracker(SiameseTracker):
    """A NanoTrack-format head over edgecv's crops: score × size penalty × window, box from the best cell."""

    name = "nanotrack"

    def __init__(self, net: SiameseNet, params: NanoTrackParams | None = None):
        super().__init__(net, params if params is not None else default_params("nanotrack"))
        n = net.score_size
        # NanoTrack's cell centres: (k − n//2) · stride around the crop's centre pixel (255 // 2)
        self.cell = (net.x_size // 2) + net.stride * (np.arange(n) - n // 2).astype(np.float64)
        hann = np.hanning(n)
        self.window = np.outer(hann, hann)

    @staticmethod
    def search_passes(params: NanoTrackParams) -> float:
        return 1.0

    def _search(self, frame, centre, explore):
        p, net = self.p, self.net
        _, sx = self._sides()
        out = net.search(self._crop(frame, centre[0], centre[1], sx, net.x_size), self.z)
        cls = out["cls"][0].astype(np.float64)
        m = cls.max(0)
        e = np.exp(cls - m)
        score = e[1] / (e[0] + e[1])
        loc = out["loc"][0].astype(np.float64)
        gx, gy = np.meshgrid(self.cell, self.cell)
        x1, y1, x2, y2 = gx - loc[0], gy - loc[1], gx + loc[2], gy + loc[3]
        k = net.x_size / sx                        # crop pixels per frame pixel
        tw, th = self.w * k, self.h * k
        pw, ph = np.maximum(x2 - x1, 1e-6), np.maximum(y2 - y1, 1e-6)
        penalty = size_change_penalty(pw, ph, tw, th, p.size_penalty)
        ranked = penalty * score
        if not explore:
            ranked = ranked * (1 - p.window_influence) + p.window_influence * self.window
        i, j = np.unravel_index(int(ranked.argmax()), ranked.shape)
        c = net.x_size // 2
        return {"strength": float(score[i, j]), "centre": centre,
                "dx": ((x1[i, j] + x2[i, j]) / 2 - c) / k, "dy": ((y1[i, j] + y2[i, j]) / 2 - c) / k,
                "w": float(pw[i, j] / k), "h": float(ph[i, j] / k), "score": float(score[i, j]),
                "penalty": float(penalty[i, j])}

    def _crop(self, frame, cx, cy, side, out):
        """NanoTrack's crop (OpenCV's ``tracker_nano.cpp``, pysot's before it): ``int(side)`` pixels from the
        whole-pixel corner ``int(cx) − (int(side) + 1) // 2``, resized to ``out``; its centre sits about a
        pixel up-left of (cx, cy), and the model learned its boxes on that convention, so it is kept here.
        As one affine map: the crop's centre pixel lands on ``x0 + side / 2 − 0.5``."""
        n = int(side)
        x0, y0 = int(cx) - (n + 1) // 2, int(cy) - (n + 1) // 2
        return affine_crop(frame, x0 + n / 2 - 0.5, y0 + n / 2 - 0.5, n, out, pad=self.pad)[0]

    def _accept(self, c):
        p = self.p
        H, W = self.frame_shape[:2]
        self.cx = float(np.clip(c["centre"][0] + c["dx"], 0, W))
        self.cy = float(np.clip(c["centre"][1] + c["dy"], 0, H))
        lr = p.size_lr * c["penalty"] * c["score"]
        self.w = float(np.clip((1 - lr) * self.w + lr * c["w"], p.min_size, W))
        self.h = float(np.clip((1 - lr) * self.h + lr * c["h"], p.min_size, H))

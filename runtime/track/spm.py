"""SPM-style coarse-to-fine trackers (Wang et al. 2019) over exported artifacts: coarse candidates with boxes,
a fine embedding picks the target, a SiamFC-style scale pyramid gives the size.

No registered variant runs this class since 2026-12-07: ``spm`` and ``spm-lite`` fell below KLT on the dev set and
``spm-nano`` tied it; ``spm-lite0`` (SPM's loop on boxtrack-fc's graphs, :mod:`.boxtrack`'s fine stage) replaces them
(``registry.RETIRED``). Their graphs still run here, with spm-nano's values (``params/spm_nano.py``, kept as the
SPM graphs' values, not a registered variant)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .crop import affine_crop
from .registry import graph_params
from .siamese_base import LostParams, SiameseNet, SiameseTracker, scale_pyramid

__all__ = ["SPMParams", "SPMTracker"]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class SPMParams:
    """SPM-style coarse-to-fine: top-K coarse candidates (3×3 local maxima of the coarse score under the
    motion and size priors), re-scored by the fine embedding: a candidate's strength is
    ``coarse · exp(T·(cos − 1))``, the coarse "is it target-like" probability times the
    fine stage's "is it *the* target" likelihood. The product, not a sum, is what lets the lost state
    work: another person scores as target-like as the target, and only the fine factor drops.

    The box head of a small net regresses toward the sizes it saw in training (a face shrinks, a thin
    pedestrian widens, frame after frame). So, like SiamRPN, candidates whose size or aspect ratio
    jump from the current box are penalised (``size_penalty``), the size update is damped by that
    penalty and the coarse score, and ``calibrate_size`` divides out the head's bias for this target,
    measured once on the init frame (regressed vs given box at the centre cell).

    The size therefore comes mainly from a SiamFC-style scale pyramid (``num_scales`` crops at
    ``scale_step`` apart, the best coarse × fine strength wins, the scale update damped by ``scale_lr``),
    with the regressed box blended in slowly (``size_lr``) for the aspect ratio and fine size.

    The values (``params/spm_nano.py``; the retired spm's and spm-lite's are in git history) were chosen by
    ``bench/tune_track.py`` on training material, never on the dev set; why each stands beside it there."""
    top_k: int                         # coarse candidates (3×3 local maxima) re-scored by the fine stage
    fine_temperature: float            # T of the fine likelihood while tracking
    redetect_temperature: float        # T while lost: re-acquisition must be surer it is *the* target
    window_influence: float            # motion prior (cosine window) on the candidate score
    size_penalty: float                # k in exp(−k·(size change · ratio change − 1)), as SiamRPN
    size_lr: float                     # damped box-size update (× penalty × coarse score)
    aspect_lr: float | None            # a separate, slower rate for the aspect ratio (None: w and h at size_lr)
    calibrate_size: bool               # divide out the head's size bias measured on the init frame
    box_centre: bool                   # move to the regressed box's centre (else: the winning cell's)
    num_scales: int                    # > 1: also search scaled crops, as SiamFC, and take the size from them
    scale_step: float                  # scale factor between neighbouring crops
    scale_penalty: float               # multiplies the strength of every non-unit scale
    scale_lr: float                    # damped scale update from the winning crop
    scale_every: int                   # run the pyramid on every n-th frame only (one crop in between)
    min_size: float                    # smallest box side, px (a smaller init box is refused)
    lost: LostParams                   # the lost state


class SPMTracker(SiameseTracker):
    """SPM-style coarse-to-fine: coarse candidates with boxes, fine embedding picks the target."""

    name = "spm"

    def __init__(self, net: SiameseNet, params: SPMParams | None = None):
        name = net.geometry.get("tracker", "spm-nano")
        super().__init__(net, params if params is not None else graph_params(name, "spm-nano"))
        self.name = name
        self.size_gain = (1.0, 1.0)
        self._frame = 0  # frames since init: the pyramid runs on every ``scale_every``-th

    @staticmethod
    def search_passes(params: SPMParams) -> float:
        """The pyramid's crops on every ``scale_every``-th frame, one crop in between, averaged."""
        n = max(int(params.num_scales), 1)
        every = max(int(params.scale_every), 1)
        return (n + every - 1) / every

    def _reference(self, frame):
        self.size_gain = (1.0, 1.0)  # the init search regresses without a previous target's gain
        self._frame = 0
        return super()._reference(frame)

    def _update(self, frame):
        self._frame += 1
        return super()._update(frame)

    def _calibrate(self, cand):
        if self.p.calibrate_size:  # the head's bias for this target: given size / regressed size
            self.size_gain = (float(np.clip(self.w / max(cand["w_centre"], 1e-3), 0.5, 2.0)),
                              float(np.clip(self.h / max(cand["h_centre"], 1e-3), 0.5, 2.0)))

    def _search(self, frame, centre, explore):
        """The best candidate over the searched crops: one at the current size, or ``num_scales``
        (SiamFC's pyramid) when tracking at the current position; the winner's ``f`` is its scale."""
        p = self.p
        _, sx = self._sides()
        if (p.num_scales <= 1 or (explore and centre != (self.cx, self.cy))
                or self._frame % max(1, p.scale_every)):
            return dict(self._search_crop(frame, centre, explore, sx), f=1.0)
        best = None
        for f, pen in scale_pyramid(p.num_scales, p.scale_step, p.scale_penalty):
            cand = self._search_crop(frame, centre, explore, sx * f)
            ranked = cand["strength"] * pen
            if best is None or ranked > best[0]:
                best = (ranked, dict(cand, f=f))
        return best[1]

    def _search_crop(self, frame, centre, explore, sx):
        p, net = self.p, self.net
        crop, _ = affine_crop(frame, centre[0], centre[1], sx, net.x_size, pad=self.pad)
        out = net.search(crop, self.z)
        coarse = _sigmoid(out["cls"][0, 0])
        # the fine stage's likelihood that a window is the target: its cosine at the temperature the
        # fine stage was trained with (softmax over target, look-alikes and background); sharper while
        # lost: re-acquiring a look-alike costs more than staying lost one more frame
        temp = p.redetect_temperature if self.lost else p.fine_temperature
        fine = np.exp(temp * (out["fine"][0, 0] - 1.0))
        scale = sx / net.x_size
        lft, top, rgt, bot = out["ltrb"][0]
        w = (lft + rgt) * scale * self.size_gain[0]
        h = (top + bot) * scale * self.size_gain[1]
        n = net.score_size
        c = (n - 1) / 2
        mid = int(round(c))

        def padded(a, b):
            q = (a + b) / 2
            return np.sqrt((a + q) * (b + q))

        change_s = padded(w, h) / padded(self.w, self.h)
        change_r = (w / h) / (self.w / self.h)
        jump = np.maximum(change_s, 1 / change_s) * np.maximum(change_r, 1 / change_r)
        penalty = np.exp(-p.size_penalty * (jump - 1))
        prior = coarse * penalty
        if not explore:
            prior = prior * (1 - p.window_influence) + p.window_influence * self.window / self.window.max()
        # coarse stage: top-K local maxima; fine stage: re-score them with the embedding
        dil = cv2.dilate(prior, np.ones((3, 3), np.uint8))
        peaks = np.argwhere(prior >= dil)
        peaks = peaks[np.argsort(-prior[peaks[:, 0], peaks[:, 1]])[:p.top_k]]
        pi, pj = peaks[:, 0], peaks[:, 1]
        scores = coarse[pi, pj] * fine[pi, pj]
        ranked = scores * penalty[pi, pj]
        if not explore:
            ranked = ranked * (1 - p.window_influence) + p.window_influence * self.window[pi, pj] / self.window.max()
        k = int(ranked.argmax())
        i, j = peaks[k]
        off = 0.5 if p.box_centre else 0.0
        px = (net.x_size - 1) / 2 + net.stride * (j - c) + off * (rgt[i, j] - lft[i, j])
        py = (net.x_size - 1) / 2 + net.stride * (i - c) + off * (bot[i, j] - top[i, j])
        return {"strength": float(scores[k]), "centre": centre, "dx": (px - (net.x_size - 1) / 2) * scale,
                "dy": (py - (net.x_size - 1) / 2) * scale, "w": float(w[i, j]), "h": float(h[i, j]),
                "coarse": float(coarse[i, j]), "fine": float(fine[i, j]), "penalty": float(penalty[i, j]),
                "w_centre": float(w[mid, mid]), "h_centre": float(h[mid, mid])}  # the centre cell's box

    def _accept(self, c):
        p = self.p
        self.cx, self.cy = c["centre"][0] + c["dx"], c["centre"][1] + c["dy"]
        H, W = self.frame_shape[:2]
        if p.num_scales > 1:  # the pyramid's scale first (damped as SiamFC), then the head's box on top
            s = (1 - p.scale_lr) + p.scale_lr * c["f"]
            self.w, self.h = self.w * s, self.h * s
        lr = p.size_lr * c["penalty"] * c["coarse"]
        if p.aspect_lr is None:
            w = (1 - lr) * self.w + lr * c["w"]
            h = (1 - lr) * self.h + lr * c["h"]
        else:  # scale at size_lr, aspect at its own rate (a small head's aspect pulls toward its prior)
            lr_a = p.aspect_lr * c["penalty"] * c["coarse"]
            scale = math.exp((1 - lr) * math.log(self.w * self.h) / 2 + lr * math.log(c["w"] * c["h"]) / 2)
            ratio = math.exp((1 - lr_a) * math.log(self.w / self.h) + lr_a * math.log(c["w"] / c["h"]))
            w, h = scale * math.sqrt(ratio), scale / math.sqrt(ratio)
        self.w = float(np.clip(w, p.min_size, W))
        self.h = float(np.clip(h, p.min_size, H))

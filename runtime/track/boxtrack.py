"""BoxTrack over exported artifacts: one search pass per frame, the box read from the anchor-free head.

Variants: ``boxtrack`` (257² search), ``boxtrack-fast`` (225², the same weights) and ``boxtrack-fc`` (the same network
on a 193² crop plus SiamFC-Lite0's score from the same pass) — ``params/boxtrack.py``, ``params/boxtrack_fast.py``,
``params/boxtrack_fc.py``.

Per frame: the score map (sigmoid of ``cls``) is multiplied by a penalty on the change of size and aspect
each cell's box would make (SiamRPN's), blended with a cosine window (motion prior), and the best cell wins.
Its box moves the target; the size follows at a rate damped by that cell's score and penalty.

Online adaptation, within the edge budget, two ways (each off at 0):

- ``template_lr`` > 0: on confidently tracked frames (confidence ≥ ``update_above``), every ``update_every``
  frames the template graph runs on the current box and the template features become
  ``(1 − lr) · initial + lr · latest``: a confidence-gated update that follows appearance change (turns, tilt,
  light) while the initial template keeps the tracker anchored to what the user selected.
- ``cf_weight`` > 0: a discriminative model learned online on the network's own search features (the search
  graph's ``feat`` output): a multi-channel linear correlation filter solved in the Fourier domain
  (MOSSE/DCF closed form, :class:`FeatureCF`), trained on the init frame with a Gaussian on the target's cell
  and updated (rate ``cf_lr``) on confident frames. Where the offline head scores every target-like thing,
  the filter has seen *this* target and its surroundings; its response is blended into the score that
  picks the cell. It costs a few FFTs of 96 × S × S per frame, no extra graph pass. Tuned on training material, it
  does not pay on any variant (BENCHMARKS.md#boxtrack-online): off in every shipped parameter set.

Re-acquisition by appearance (``reacquire_cos`` > 0). While lost, the search drops its window and takes the best
cell anywhere: the class-agnostic head scores any target-like thing near 1, so after a full occlusion it would take
the next pedestrian. Each cell's appearance (:func:`appearance`: the search features averaged over the box the head
gives there, in ``reacquire_bands`` horizontal bands) is compared with the target's (over the given box at init,
and over the accepted box at each template update); only cells whose cosine reaches ``reacquire_cos`` may
re-acquire. It costs one integral image of the features per frame while lost, and one per template update.

SiamFC's whole-template score (``fc_weight`` > 0, graphs with an ``fc`` output: ``boxtrack-fc``). The head's score
is class-agnostic and saturates on anything target-like; SiamFC's correlation of the whole template (its own neck
over the same trunk pass) is sharper and instance-specific. Its map, read as a share of its peak on the init frame
(:meth:`BoxTrackTracker._fc_map`), is blended into the score that picks the cell and, with ``fc_confidence``, into
the confidence the lost state reads.

The lost box (``lost_size_frames``). An occluder coming in over the target shrinks the head's box to the visible part
before the confidence falls, so the box the lost state keeps was the shrunk one, off the hidden target's centre. On
going lost, each axis that shrank over the last ``lost_size_frames`` tracked frames takes back its earlier size,
anchored on the side that held still (:func:`restore_size`); the re-detection then searches around that box.

The box's shape (``mask_follows``, ``box_vote``). The head reads much of the box's aspect from the template's mask
(:func:`template_mask`), so a target that turns or opens up (a board tilting to face the camera) keeps too much of its
first shape: with each template under its own mask and the first one kept at ``1 − template_lr``, the box settles
short of the truth. ``mask_follows`` m blends the templates' raw features and masks the blend for a box that moves
m of the way (in log) from the first box to the current one, so the shape prior follows the target. ``box_vote``
averages the boxes of the winner's confident neighbours: each cell regresses the box on its own, and the mean is
steadier than the winner alone.

Size from motion (``flow_scale``): points on a grid inside the box are tracked from the previous frame by
pyramidal LK (:func:`.flowscale.axis_scale`); their spread gives the width's and the height's factor, which
predicts the size before the head's box corrects it (at ``size_lr × (1 − flow_trust)``). The head alone keeps
the template's shape where a target turns or grows; the points see the change.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from . import flowscale
from .base import TrackResult
from .crop import affine_crop
from .registry import default_params
from .siamese_base import LostParams, SiameseNet, SiameseTracker, size_change_penalty

__all__ = ["BoxTrackParams", "BoxTrackTracker"]


@dataclass
class BoxTrackParams:
    """BoxTrack's search (values: ``params/boxtrack.py``, ``params/boxtrack_fast.py``)."""
    window_influence: float            # cosine window blended into the penalised score
    size_penalty: float                # k in exp(−k·(size change · ratio change − 1)), as SiamRPN
    size_lr: float                     # box-size update rate (× the winning cell's score and penalty)
    cf_weight: float                   # weight of the online correlation filter's response (0: off)
    cf_lr: float                       # its update rate on confident frames
    cf_sigma: float                    # its Gaussian label's width, × the target's size in cells
    cf_lambda: float                   # its ridge regulariser, × the features' mean energy
    calibrate_size: bool               # divide out the head's size/aspect bias measured on the init frame
    mask_floor: float                  # template_mask's weight outside the box: 0.3 as trained; higher = a weaker
                                       # shape prior (the head reads more of the box from the search image)
    template_lr: float                 # weight of the latest template in the blend (0: no update)
    update_every: int                  # frames between template updates
    update_above: float                # confidence needed for a template update
    flow_scale: bool                   # predict the size from points tracked inside the box (flowscale.py)
    flow_trust: float                  # with flow_scale: share of the head's size correction dropped while the
                                       # points track (0: the head corrects at size_lr, 1: the points alone)
    min_size: float                    # smallest box side, px (a smaller init box is refused)
    lost: LostParams                   # the lost state
    reacquire_cos: float               # while lost, a candidate must look like the target: cosine of its
                                       # appearance (:func:`appearance`) to the target's at least this (0: off)
    reacquire_bands: int               # horizontal bands of that appearance (1: the box's mean feature)
    fc_weight: float                   # share of the SiamFC whole-template score (graphs with an ``fc`` output,
                                       # ``boxtrack-fc``) in the score that picks the cell (0: off)
    fc_confidence: bool                # the confidence (lost state, template update) blends it in too
    lost_size_frames: int              # on going lost, the box takes back its size of this many tracked frames
                                       # earlier where it has shrunk since (:func:`restore_size`): an occluder
                                       # coming in shrinks it first (0: off)
    mask_follows: float                # m > 0: a template update masks the blend of the raw (unmasked) templates for a
                                       # box whose sides are init^(1−m) · current^m (0: each template its own mask)
    box_vote: float                    # the box: the score-weighted mean of the boxes of the winning cell's 3×3
                                       # neighbours whose ranked score is ≥ (1 − this) × the winner's (0: winner's)
    template_running: bool             # a template update blends into the current template (and moves the mask
                                       # from the current mask's box), not into the first one: the shape prior
                                       # can reach a turned target's, at the cost of the first view's anchor
    fine_k: int                        # SPM's fine stage (k > 0): the k best 3×3 local maxima of score × size penalty
                                       # (no window) are re-scored by how much each candidate's box looks like the
                                       # target (:func:`appearance` cosine to ``looks``, ``reacquire_bands`` bands)
    fine_temperature: float            # T of the fine likelihood exp(T·(cos − 1)) that multiplies a candidate's score
    fine_confidence: bool              # the confidence (lost state, template update) is multiplied by it too


def appearance(feat: np.ndarray, half_h, half_w, bands: int = 1, at=None) -> np.ndarray:
    """(S, S, C · bands) appearance of the thing at each cell: the search graph's ``feat`` (C, S, S) averaged over
    a box centred on the cell, ``half_h`` × ``half_w`` cells from its centre to its sides (scalars, or (S, S) maps:
    each cell's own box), clipped at the map's edge. ``bands`` > 1 splits the box into that many horizontal bands,
    each averaged and made unit-length on its own (a person's head, body and legs), so the cosine of two
    descriptors is the mean of the bands' cosines: the layout counts, not only the average colour and texture.
    A descriptor of *this* object that the head's class-agnostic score lacks (``reacquire_cos``).
    ``at`` = (rows, cols): only those cells, (K, C · bands) (the fine stage's few candidates)."""
    c, n = feat.shape[0], feat.shape[-1]
    hh = np.broadcast_to(np.asarray(half_h, np.float64), (n, n))
    hw = np.broadcast_to(np.asarray(half_w, np.float64), (n, n))
    if at is None:
        ri, ci = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        ii = np.zeros((n + 1, n + 1, c))  # integral image: every cell's boxes at 4 look-ups each
        ii[1:, 1:] = np.moveaxis(feat, 0, -1).astype(np.float64).cumsum(0).cumsum(1)
    else:
        ri, ci = np.asarray(at[0]), np.asarray(at[1])
    hh, hw = hh[ri, ci], hw[ri, ci]
    ki, kj = ri.astype(np.float64), ci.astype(np.float64)
    lo_j = np.minimum(np.maximum(np.floor(kj - hw + 0.5), 0), n - 1).astype(int)
    hi_j = np.minimum(np.maximum(np.ceil(kj + hw - 0.5), lo_j), n - 1).astype(int) + 1
    k = np.arange(n)
    if at is not None:  # a few boxes: indicator products, every band at once (cheaper than the integral image)
        cols = ((k >= lo_j[:, None]) & (k < hi_j[:, None])).astype(np.float32)
        colsum = (feat.reshape(-1, n) @ cols.T).reshape(c, n, -1)  # (C, rows, K): each box's columns summed
        b = np.arange(bands)[:, None]
        top, bottom = ki - hh + 2 * hh * b / bands, ki - hh + 2 * hh * (b + 1) / bands  # (bands, K)
        lo_i = np.minimum(np.maximum(np.floor(top + 0.5), 0), n - 1)
        hi_i = np.minimum(np.maximum(np.ceil(bottom - 0.5), lo_i), n - 1) + 1
        rows = ((k >= lo_i[..., None]) & (k < hi_i[..., None])).astype(np.float32)  # (bands, K, rows)
        v = np.einsum("bki,cik->kbc", rows, colsum)
        v /= np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)  # cell counts divide out
        return v.reshape(len(ri), -1) / np.sqrt(bands)
    out = []
    for b in range(bands):
        top, bottom = ki - hh + 2 * hh * b / bands, ki - hh + 2 * hh * (b + 1) / bands
        lo_i = np.minimum(np.maximum(np.floor(top + 0.5), 0), n - 1).astype(int)
        hi_i = np.minimum(np.maximum(np.ceil(bottom - 0.5), lo_i), n - 1).astype(int) + 1
        v = ii[hi_i, hi_j] - ii[lo_i, hi_j] - ii[hi_i, lo_j] + ii[lo_i, lo_j]
        out.append(v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9))  # cell counts divide out
    return np.concatenate(out, -1) / np.sqrt(bands)


def restore_size(before, now):
    """The box ``now`` (cx, cy, w, h) given back, per axis, the larger size it had ``before``, anchored on the side that
    moved less between the two: an occluder coming in from one side eats the box from that side while the other side
    stays on the target (a target moving with the box moves both sides alike, so either anchor keeps it). An axis
    that grew keeps its size: only the shrinking is undone."""
    out = []
    for c0, s0, c1, s1 in ((before[0], before[2], now[0], now[2]), (before[1], before[3], now[1], now[3])):
        if s0 <= s1:
            out.append((c1, s1))
            continue
        lo_moved, hi_moved = abs((c1 - s1 / 2) - (c0 - s0 / 2)), abs((c1 + s1 / 2) - (c0 + s0 / 2))
        out.append((c1 - s1 / 2 + s0 / 2 if lo_moved <= hi_moved else c1 + s1 / 2 - s0 / 2, s0))
    (cx, w), (cy, h) = out
    return cx, cy, w, h


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


MASK_FLOOR = 0.3  # template cells outside the box keep this share: context stays visible, the box's shape too


def template_mask(w: float, h: float, cells: int, stride: int, floor: float = MASK_FLOOR) -> np.ndarray:
    """(cells, cells) weights for the template features of a target ``w`` × ``h`` (template-crop pixels,
    centred): ``floor + (1 − floor) · coverage``, coverage = the share of each cell's stride × stride square
    inside the box. The pixel-wise correlation gives one channel per template cell, so the weighted channels
    tell the head which cells hold the target: the box's aspect, which an arbitrary textured rectangle
    does not show by itself. Training applies the same weights (``edgecv/train/boxtrack.py``)."""
    centre = stride * (cells - 1) / 2
    pos = stride * np.arange(cells, dtype=np.float64)

    def cover(side):
        lo = np.maximum(pos - stride / 2, centre - side / 2)
        hi = np.minimum(pos + stride / 2, centre + side / 2)
        return np.clip(hi - lo, 0.0, stride) / stride

    return (floor + (1 - floor) * np.outer(cover(h), cover(w))).astype(np.float32)


class FeatureCF:
    """Multi-channel linear correlation filter on (C, S, S) features, Fourier-domain closed form:
    ``A_c = Ŷ · conj(X̂_c)``, ``B = Σ_c |X̂_c|² + λ``, response ``ifft(Σ_c A_c · Ẑ_c / B)``; ``A`` and ``B``
    are running averages (MOSSE's update), so one frame costs two FFTs of the features."""

    def __init__(self, size: int, sigma: float, lam: float):
        self.win = np.outer(np.hanning(size + 2)[1:-1], np.hanning(size + 2)[1:-1])
        self.size, self.sigma, self.lam = size, sigma, lam
        self.a = self.b = None

    def _spectrum(self, feat):
        return np.fft.fft2(feat.astype(np.float64) * self.win, axes=(-2, -1))

    def _label(self, ci: float, cj: float, sigma: float):
        k = np.arange(self.size)
        di = (k - ci + self.size / 2) % self.size - self.size / 2  # cyclic distances to the centre
        dj = (k - cj + self.size / 2) % self.size - self.size / 2
        g = np.exp(-(di[:, None] ** 2 + dj[None, :] ** 2) / (2 * sigma ** 2))
        return np.fft.fft2(g)

    def fit(self, feat, ci: float, cj: float, target_cells: float, lr: float = 1.0):
        """Learn (``lr`` = 1) or update the filter from features whose target sits at cell (ci, cj)."""
        x = self._spectrum(feat)
        y = self._label(ci, cj, max(self.sigma * target_cells, 0.5))
        a = y[None] * np.conj(x)
        b = (x * np.conj(x)).real.sum(0)
        if self.a is None or lr >= 1.0:
            self.a, self.b = a, b
        else:
            self.a = (1 - lr) * self.a + lr * a
            self.b = (1 - lr) * self.b + lr * b

    def response(self, feat):
        """The filter's response over the cells (about 1 on the target, about 0 elsewhere)."""
        z = self._spectrum(feat)
        den = self.b + self.lam * self.b.mean()
        return np.fft.ifft2((self.a * z).sum(0) / den).real


class BoxTrackTracker(SiameseTracker):
    """Anchor-free box-head tracker: score × size penalty × window, box from the winning cell."""

    name = "boxtrack"

    def __init__(self, net: SiameseNet, params: BoxTrackParams | None = None):
        name = net.geometry.get("tracker", "boxtrack")
        super().__init__(net, params if params is not None else default_params(name))
        self.name = name
        n = net.score_size
        c = (n - 1) / 2
        self.cell = (net.x_size - 1) / 2 + net.stride * (np.arange(n) - c)  # crop pixel of each cell
        self._since_update = 0
        self.cf = None
        self._last = None
        self.gain = (1.0, 1.0)
        self._prev = None   # flowscale.reference of the previous tracked frame, for flow_scale
        self._frame = None
        self.looks = []     # the target's appearance: at init, and at the last template update (reacquire_cos)
        self._look = None   # the last accepted candidate, whose appearance a template update keeps
        self.fc_ref = None  # SiamFC's logit on the target at init (boxtrack-fc): its map is read as a share of it
        self._fc_peak = None
        self._boxes = deque()  # (cx, cy, w, h) of the last tracked frames, for lost_size_frames

    @property
    def _keeps_looks(self) -> bool:
        """The target's appearance is kept for the re-acquisition gate and for the fine stage."""
        return self.p.reacquire_cos > 0 or self.p.fine_k > 0

    @staticmethod
    def search_passes(params: BoxTrackParams) -> float:
        """One search pass per frame (plus a template pass every ``update_every`` frames, ~1/4 of one)."""
        return 1.0 + (0.25 / max(int(params.update_every), 1) if params.template_lr > 0 else 0.0)

    def _masked(self, z: dict, side: float, box=None) -> dict:
        """The template features weighted by :func:`template_mask` for ``box`` (w, h in template-crop pixels;
        default the current box; ``side``: the template crop's side in frame pixels)."""
        if not self.net.geometry.get("template_mask"):  # a graph trained without the weights
            return z
        k = self.net.z_size / side
        w, h = box if box is not None else (self.w * k, self.h * k)
        m = template_mask(w, h, z["z"].shape[-1], self.net.stride, self.p.mask_floor)
        return dict(z, z=(z["z"] * m).astype(np.float32))

    def _prepare_template(self, z: dict, side: float) -> dict:
        self.z_raw = {k: v.copy() for k, v in z.items()}  # unmasked, for mask_follows
        self._mask_box = (self.w * self.net.z_size / side, self.h * self.net.z_size / side)
        z = self._masked(z, side)
        self.fc_ref = self._fc_peak = None  # measured again on the new target's init frame
        self.z_init = {k: v.copy() for k, v in z.items()}
        self._since_update = 0
        self.cf = None  # a new target: the filter is solved again on its init frame
        self.gain = (1.0, 1.0)  # and the size calibration measured again
        return z

    def _search(self, frame, centre, explore):
        p, net = self.p, self.net
        _, sx = self._sides()
        crop, _ = affine_crop(frame, centre[0], centre[1], sx, net.x_size, pad=self.pad)
        out = net.search(crop, self.z)
        score = _sigmoid(out["cls"][0, 0].astype(np.float64))
        pick = score
        fc = self._fc_map(out)
        if fc is not None:  # SiamFC's whole-template score from the same pass (boxtrack-fc)
            pick = (1 - p.fc_weight) * score + p.fc_weight * fc
            if p.fc_confidence:
                score = pick
        if p.cf_weight > 0 and self.cf is not None and "feat" in out:
            pick = (1 - p.cf_weight) * pick + p.cf_weight * np.clip(self.cf.response(out["feat"][0]), 0.0, 1.0)
        lft, top, rgt, bot = out["ltrb"][0].astype(np.float64)
        scale = sx / net.x_size
        w, h = (lft + rgt) * scale * self.gain[0], (top + bot) * scale * self.gain[1]

        penalty = size_change_penalty(w, h, self.w, self.h, p.size_penalty)
        ranked = pick * penalty
        if not explore:
            ranked = ranked * (1 - p.window_influence) + p.window_influence * self.window / self.window.max()
        feat = out.get("feat")
        if p.reacquire_cos > 0 and feat is not None and self.lost and self.looks:
            # only cells that look like the target may re-acquire it: each cell's own box (the head's) is compared
            looks = appearance(feat[0], h / scale / net.stride / 2, w / scale / net.stride / 2, p.reacquire_bands)
            alike = np.max([looks @ v for v in self.looks], axis=0) >= p.reacquire_cos
            ranked = np.where(alike, ranked, -1.0)
        coarse, fine = ranked, None
        if p.fine_k > 0 and feat is not None and self.looks:  # SPM: coarse candidates, the fine stage picks one
            ranked, fine = self._fine(ranked, np.where(ranked >= 0, pick * penalty, -1.0), feat[0],
                                      w / scale / net.stride / 2, h / scale / net.stride / 2)
        i, j = np.unravel_index(int(ranked.argmax()), ranked.shape)
        px = self.cell[j] + (rgt[i, j] - lft[i, j]) / 2
        py = self.cell[i] + (bot[i, j] - top[i, j]) / 2
        bw, bh = float(w[i, j]), float(h[i, j])
        if p.box_vote > 0 and ranked[i, j] > 0:
            px, py, bw, bh = self._vote(coarse, lft, top, rgt, bot, i, j, scale)  # the box from the coarse map
        c = (net.x_size - 1) / 2
        strength = float(score[i, j]) if ranked[i, j] >= 0 else 0.0  # no cell like the target: nothing found
        if fine is not None and p.fine_confidence:
            strength *= float(fine[i, j])
        return {"strength": strength, "centre": centre, "dx": (px - c) * scale, "dy": (py - c) * scale,
                "ij": (i, j), "scale": scale,
                "w": bw, "h": bh, "score": float(score[i, j]),
                "penalty": float(penalty[i, j]), "feat": feat, "cell": (py / net.stride, px / net.stride),
                "target_cells": float(np.sqrt(self.w * self.h) / scale / net.stride)}

    def _fine(self, ranked, coarse, feat, half_w, half_h):
        """SPM's coarse-to-fine step on BoxTrack's maps: the ``fine_k`` best 3×3 local maxima of ``coarse`` (the
        score × size penalty, no motion window: target-like places with their boxes) keep their ``ranked`` value
        × exp(T·(cos − 1)), cos the best banded appearance cosine of the candidate's own box to the target's looks;
        every other cell drops out (−1). Returns (the re-scored map, the fine likelihood per cell: 1 elsewhere)."""
        p = self.p
        dil = cv2.dilate(np.ascontiguousarray(coarse, np.float64), np.ones((3, 3), np.uint8))
        peaks = np.argwhere(coarse >= dil)
        peaks = peaks[np.argsort(-coarse[peaks[:, 0], peaks[:, 1]])[:p.fine_k]]
        pi, pj = peaks[:, 0], peaks[:, 1]
        looks = appearance(feat, half_h, half_w, p.reacquire_bands, at=(pi, pj))
        cos = np.max([looks @ v for v in self.looks], axis=0)
        fine = np.ones_like(ranked)
        fine[pi, pj] = np.exp(p.fine_temperature * (cos - 1.0))
        out = np.full_like(ranked, -1.0)
        out[pi, pj] = ranked[pi, pj] * fine[pi, pj]
        return out, fine

    def _vote(self, ranked, lft, top, rgt, bot, i, j, scale):
        """Box voting: the winner's 3×3 neighbours within ``box_vote`` of its ranked score, averaged with the
        ranked scores as weights (edges in crop pixels); each cell regresses the box on its own, so the mean
        is steadier than the winner alone."""
        n = ranked.shape[0]
        i0, i1, j0, j1 = max(i - 1, 0), min(i + 2, n), max(j - 1, 0), min(j + 2, n)
        r = ranked[i0:i1, j0:j1]
        wt = np.where(r >= (1 - self.p.box_vote) * ranked[i, j], np.maximum(r, 0.0), 0.0)
        cx, cy = self.cell[j0:j1][None, :], self.cell[i0:i1][:, None]
        x1 = (wt * (cx - lft[i0:i1, j0:j1])).sum() / wt.sum()
        x2 = (wt * (cx + rgt[i0:i1, j0:j1])).sum() / wt.sum()
        y1 = (wt * (cy - top[i0:i1, j0:j1])).sum() / wt.sum()
        y2 = (wt * (cy + bot[i0:i1, j0:j1])).sum() / wt.sum()
        return (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * scale * self.gain[0], (y2 - y1) * scale * self.gain[1]

    def _fc_map(self, out: dict):
        """SiamFC's score on BoxTrack's cells, as a share of this target's reference peak (the logit at the init
        frame's target, :meth:`_calibrate`), clipped to [0, 1]; 0 where its smaller map does not reach. None
        without an ``fc`` output or at ``fc_weight`` 0. Not a sigmoid: BoxTrack's and SiamFC's logits both
        saturate it on the target *and* on a look-alike, where SiamFC's raw peaks still differ by 2×."""
        if self.p.fc_weight <= 0 or "fc" not in out:
            return None
        fc = out["fc"][0, 0].astype(np.float64)
        ref = self.fc_ref if self.fc_ref is not None else max(float(fc.max()), 1e-3)
        o, m = int(self.net.geometry.get("fc_offset", 0)), fc.shape[-1]
        full = np.zeros((self.net.score_size, self.net.score_size))
        full[o:o + m, o:o + m] = np.clip(fc / ref, 0.0, 1.0)
        self._fc_peak = float(fc.max())
        return full

    def _calibrate(self, cand):
        """The init frame's search (centred on the given box): the size calibration and the online filter's
        first solve. The head's box regresses toward the aspects it saw in training (an arbitrary rectangle
        of texture carries no edges to read), so ``calibrate_size`` keeps this target's given/regressed ratio
        per side (within ×0.5..×2) and applies it to every later box."""
        p = self.p
        if p.calibrate_size:  # the head's bias for this target: given size / regressed size, at the given place
            self.gain = (float(np.clip(self.w / max(cand["w"], 1e-3), 0.5, 2.0)),
                         float(np.clip(self.h / max(cand["h"], 1e-3), 0.5, 2.0)))
        self.cf = None
        self.looks, self._look = [], None
        self.fc_ref = max(self._fc_peak, 1e-3) if self._fc_peak is not None else None  # SiamFC's peak on the target
        if self._keeps_looks and cand.get("feat") is not None:  # the given box, centred in the init crop
            m, k = (self.net.score_size - 1) // 2, cand["scale"] * self.net.stride * 2
            self.looks = [appearance(cand["feat"][0], self.h / k, self.w / k, p.reacquire_bands)[m, m]]
        if p.cf_weight > 0 and cand.get("feat") is not None:
            self.cf = FeatureCF(self.net.score_size, p.cf_sigma, p.cf_lambda)
            c = (self.net.score_size - 1) / 2
            self.cf.fit(cand["feat"][0], c, c, cand["target_cells"])

    def _accept_box(self, c):
        p = self.p
        cx, cy = c["centre"][0] + c["dx"], c["centre"][1] + c["dy"]
        lr = p.size_lr * c["penalty"] * c["score"]
        w, h = self.w, self.h
        if p.flow_scale and self._prev is not None and self._frame is not None:
            moved = flowscale.axis_scale(self._prev, self._frame, (cx, cy))
            if moved is not None:
                w, h = w * moved[0], h * moved[1]
                lr *= 1.0 - p.flow_trust
        self.cx, self.cy = cx, cy
        H, W = self.frame_shape[:2]
        self.w = float(np.clip((1 - lr) * w + lr * c["w"], p.min_size, W))
        self.h = float(np.clip((1 - lr) * h + lr * c["h"], p.min_size, H))

    def _accept(self, c):
        self._accept_box(c)
        self._look = c if self._keeps_looks and c.get("feat") is not None else None
        p = self.p
        if self.cf is not None and c.get("feat") is not None and p.cf_lr > 0:
            self._last = c  # the filter learns from it once the frame's confidence is known (``_update``)

    def _state(self):
        return self.cx, self.cy, self.w, self.h

    def _init(self, frame, box):
        super()._init(frame, box)
        self._boxes = deque([self._state()], maxlen=max(int(self.p.lost_size_frames), 0) + 1)
        self._prev = flowscale.reference(frame, (self.cx, self.cy, self.w, self.h)) if self.p.flow_scale else None

    def _update(self, frame):
        self._last = None
        self._frame = frame
        was_lost = self.lost
        res = super()._update(frame)
        self._frame = None
        p = self.p
        if p.lost_size_frames > 0:
            if not res.lost:
                self._boxes.append(self._state())
            elif not was_lost and self._boxes:  # just lost: undo the shrinking an incoming occluder caused
                self.cx, self.cy, self.w, self.h = restore_size(self._boxes[0], self._state())
                self._boxes.clear()
                self.last_box = self._box()
                res = TrackResult(self.last_box, res.score, lost=True, rotated=res.rotated)
        if p.flow_scale:  # the next frame measures its size change from this one (not across a lost stretch)
            self._prev = None if res.lost else flowscale.reference(frame, (self.cx, self.cy, self.w, self.h))
        if self._last is not None and res.score >= p.update_above:
            c = self._last
            self.cf.fit(c["feat"][0], c["cell"][0], c["cell"][1], c["target_cells"], p.cf_lr)
        if p.template_lr > 0 and not res.lost:
            self._since_update += 1
            if self._since_update >= p.update_every and res.score >= p.update_above:
                self._since_update = 0
                sz, _ = self._sides()
                crop, _ = affine_crop(frame, self.cx, self.cy, sz, self.net.z_size, pad=self.pad)
                if p.mask_follows > 0:  # blend the appearance unmasked; the shape moves toward the current box
                    raw = self.net.template(crop)
                    k, m, (w0, h0) = self.net.z_size / sz, p.mask_follows, self._mask_box
                    box = (w0 ** (1 - m) * (self.w * k) ** m, h0 ** (1 - m) * (self.h * k) ** m)
                    blend = {n: ((1 - p.template_lr) * self.z_raw[n] + p.template_lr * raw[n]).astype(np.float32)
                             for n in self.z_raw}
                    self.z = self._masked(blend, sz, box)
                    if p.template_running:  # the next update starts from this template and this mask
                        self.z_raw, self._mask_box = blend, box
                else:
                    latest = self._masked(self.net.template(crop), sz)
                    base = self.z if p.template_running else self.z_init
                    self.z = {k: ((1 - p.template_lr) * base[k] + p.template_lr * latest[k]).astype(np.float32)
                              for k in base}
                if self._look is not None and self.looks:  # the gate also knows the target as it looks now
                    c, k = self._look, self._look["scale"] * self.net.stride * 2
                    look = appearance(c["feat"][0], c["h"] / k, c["w"] / k, p.reacquire_bands)[c["ij"]]
                    self.looks = [self.looks[0], look]
        return res

"""Siamese trackers over exported artifacts (torch-free): SiamFC, SA-Siam, Siam-BM, SPM-style.

Each tracker runs two static-shape graphs exported by ``edgecv export MODEL``: the *template* graph
once at init (127² crop → template features) and the *search* graph per frame (255² crop + template
features → score maps). Tracker logic lives here, its numbers in one parameter object per tracker
(pytracking style), so tuning never touches the loop.

Confidence and the lost state. A small Siamese net's raw peak is not calibrated across targets (a
large textured target peaks far higher than a small pedestrian), and it stays fairly high on
background after the target has gone — the complaint users of these trackers make most. So the
confidence is *relative*: the frame's peak strength divided by a running reference, the exponential
average of the peaks of frames tracked with confidence (started from the peak on the init frame).
A sudden drop — the target left, or something covers it — gives a low confidence even though the raw
score is still "high". Below ``lost_below`` the tracker reports ``lost``, keeps the last confident
box and freezes its reference; it then searches wider — the usual crop plus, each frame,
``redetect_tiles`` of a ring of 8 crops around the last position — until a crop scores above
``found_above`` (hysteresis, so one lucky frame on background does not re-acquire).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .. import bundle, load
from .base import Tracker, TrackError, TrackResult, clip_box
from .crop import affine_crop, crop_side, to_nchw


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class LostParams:
    lost_below: float = 0.5            # confidence (peak / reference) under which the target is lost
    found_above: float = 0.7           # confidence needed to re-acquire while lost
    reference_lr: float = 0.1          # running average of confident peaks
    reference_init: float = 0.55       # the init frame's own peak overstates later ones (~2× on the dev set)
    redetect_tiles: int = 2            # extra ring crops searched per frame while lost
    redetect_ring: float = 0.75        # ring radius, in search-crop sides


@dataclass
class SiamFCParams:
    """SiamFC search (Bertinetto et al. 2016); defaults as in the paper where the geometry allows."""
    num_scales: int = 3
    scale_step: float = 1.0375
    scale_penalty: float = 0.9745      # multiplies the peak of every non-unit scale
    scale_lr: float = 0.59             # damped scale update
    window_influence: float = 0.176    # cosine window blended into the normalised response
    response_up: int = 8               # bicubic upsampling of the 25×25 response
    min_size: float = 8.0
    lost: LostParams = field(default_factory=LostParams)


@dataclass
class SiamBMParams(SiamFCParams):
    """Siam-BM (He et al. 2018): scale *and* angle in one pass of 5 candidates — (s, 0), (1/s, 0),
    (1, ±angle_step) and (1, 0) around the current angle — with penalties on leaving scale 1, angle 0."""
    angle_step: float = math.pi / 8
    angle_penalty: float = 0.975
    angle_lr: float = 0.5
    mask_ratio: float = 1.5            # spatial mask when the target's long/short side ratio exceeds this
    mask_margin: float = 0.5           # keep template cells within half the short side + this many cells


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

    Defaults were chosen by ``bench/tune_track.py`` on tracklets of the *training* video and (since
    pedestrians barely change size) synthetic sequences built from training photos with exact boxes,
    never on the dev set (grid and figures in BENCHMARKS.md). The pyramid won there for spm-lite's
    small head (0.580 vs 0.497 pooled AUC), and for the full SPM on a larger set (0.560 vs 0.532; it keeps
    its faster size update, ``DEFAULT_PARAMS``). On the tracklets ``calibrate_size`` lost (0.68 vs 0.71)
    and is off, and a tracking T above 2 raised false "lost" frames (1.5% at 3, 2.5% at 4) and cost AUC;
    the re-detection T of 4 is a choice, not a fit: it keeps a pedestrian look-alike (cosine ≈ 0.75) under
    ``found_above`` while the target itself (cosine ≈ 0.9) clears it."""
    top_k: int = 5
    fine_temperature: float = 2.0      # T of the fine likelihood while tracking
    redetect_temperature: float = 4.0  # T while lost: re-acquisition must be surer it is *the* target
    window_influence: float = 0.2      # motion prior (cosine window) on the candidate score
    size_penalty: float = 0.05         # k in exp(−k·(size change · ratio change − 1)), as SiamRPN
    size_lr: float = 0.08              # damped box-size update (× penalty × coarse score)
    aspect_lr: float | None = None     # a separate, slower rate for the aspect ratio (None: w and h at size_lr)
    calibrate_size: bool = False
    box_centre: bool = True            # move to the regressed box's centre (else: the winning cell's)
    num_scales: int = 3                # > 1: also search scaled crops, as SiamFC, and take the size from them
    scale_step: float = 1.06
    scale_penalty: float = 0.9745      # multiplies the strength of every non-unit scale
    scale_lr: float = 0.3              # damped scale update from the winning crop
    scale_every: int = 1               # run the pyramid on every n-th frame only (one crop in between)
    min_size: float = 8.0
    lost: LostParams = field(default_factory=LostParams)


def _scale_pyramid(num_scales: int, step: float, penalty: float) -> list[tuple[float, float]]:
    """(scale factor, penalty) for each crop of SiamFC's scale pyramid; only the unit scale goes unpenalised."""
    k = np.arange(num_scales) - (num_scales - 1) / 2
    return [(float(step ** e), 1.0 if e == 0 else penalty) for e in k]


class SiameseNet:
    """The template and search sessions of one tracker, checked against each other's manifests."""

    def __init__(self, template_path, search_path, kind: str, backend: str = "auto", threads: int | None = None):
        checked = bundle.check_bundle("track", {"template": template_path, "search": search_path}, kind, TrackError)
        self.template_sess = load(template_path, backend, threads)
        self.search_sess = load(search_path, backend, threads)
        self.geometry = checked.raw_infos["search"]  # the search graph sets the crop
        self.z_size = int(self.geometry["template_size"])
        self.x_size = int(self.geometry["search_size"])
        self.stride = int(self.geometry["stride"])
        self.score_size = int(self.geometry["score_size"])
        self.context = float(self.geometry.get("context", 0.5))
        self.template_names = [t.name for t in self.template_sess.outputs]

    def template(self, crop) -> dict:
        return self.template_sess.run({"image": to_nchw(crop)})

    def search(self, crop, z: dict) -> dict:
        return self.search_sess.run(dict(z, image=to_nchw(crop)))


def find_artifacts(art_dir, model: str, fmt: str = "onnx", precision: str = "fp32",
                   ops: str | None = None) -> tuple[Path, Path]:
    """The template and search artifacts of ``model`` in ``art_dir`` (checked; a missing low-precision template
    falls back to fp32, see :data:`edgecv.runtime.bundle.PIPELINES`)."""
    b = bundle.find_bundle("track", art_dir, model, fmt, precision, ops, error=TrackError)
    return b.paths["template"], b.paths["search"]


class _SiameseBase(Tracker):
    def __init__(self, net: SiameseNet, params):
        super().__init__()
        self.net, self.p = net, params
        n = net.score_size * getattr(params, "response_up", 1)
        self.window = np.outer(np.hanning(n), np.hanning(n)).astype(np.float32)
        self.window /= self.window.sum()
        self.lost = False
        self._tile = 0

    # geometry -------------------------------------------------------------------------------------
    def _sides(self):
        sz = crop_side(self.w, self.h, self.net.context)
        return sz, sz * self.net.x_size / self.net.z_size

    def _disp(self, pi, pj, up, side, angle_deg=0.0):
        """Peak (pi, pj) of an ``up``× upsampled map → displacement (dx, dy) in image pixels."""
        c = (self.net.score_size - 1) / 2
        dj = ((pj + 0.5) / up - 0.5 - c) * self.net.stride
        di = ((pi + 0.5) / up - 0.5 - c) * self.net.stride
        k = side / self.net.x_size
        dx, dy = dj * k, di * k
        if angle_deg:  # the crop was rotated by +angle (counter-clockwise): rotate the step back
            a = math.radians(angle_deg)
            dx, dy = dx * math.cos(a) - dy * math.sin(a), dx * math.sin(a) + dy * math.cos(a)
        return dx, dy

    def _init(self, frame, box):
        x, y, w, h = box
        if min(w, h) < self.p.min_size:  # it would be enlarged to min_size, and tracked as that, silently
            raise TrackError(f"init box {x:g},{y:g},{w:g},{h:g} is smaller than {self.name}'s minimum of "
                             f"{self.p.min_size:g}×{self.p.min_size:g} px")
        self.cx, self.cy, self.w, self.h = x + w / 2, y + h / 2, w, h
        self.angle = 0.0
        self.frame_shape = frame.shape
        self.pad = frame.reshape(-1, 3).mean(0)
        sz, _ = self._sides()
        crop, _ = affine_crop(frame, self.cx, self.cy, sz, self.net.z_size, pad=self.pad)
        self.z = self._prepare_template(self.net.template(crop), sz)
        self.lost = False
        self.last_box = box
        self.ref = self._reference(frame)

    def _box(self):
        return clip_box((self.cx - self.w / 2, self.cy - self.h / 2, self.w, self.h), self.frame_shape,
                        self.p.min_size)

    def _ring_centres(self, side):
        r = self.p.lost.redetect_ring * side
        out = []
        for _ in range(self.p.lost.redetect_tiles):
            a = 2 * math.pi * (self._tile % 8) / 8
            out.append((self.cx + r * math.cos(a), self.cy + r * math.sin(a)))
            self._tile += 1
        return out

    def _update(self, frame):
        self.frame_shape = frame.shape
        lp = self.p.lost
        centres = [(self.cx, self.cy)] + (self._ring_centres(self._sides()[1]) if self.lost else [])
        best = None
        for c in centres:
            cand = self._search(frame, c, explore=self.lost)
            if best is None or cand["strength"] > best["strength"]:
                best = cand
        conf = float(np.clip(best["strength"] / self.ref, 0.0, 1.0))
        threshold = lp.found_above if self.lost else lp.lost_below
        if conf < threshold:
            self.lost = True
            return TrackResult(self.last_box, conf, lost=True, rotated=self._rotated())
        self.lost = False
        self.ref = (1 - lp.reference_lr) * self.ref + lp.reference_lr * float(best["strength"])
        self._accept(best)
        box = self._box()
        self.last_box = box
        return TrackResult(box, conf, lost=False, rotated=self._rotated())

    def _rotated(self):
        return None

    def _prepare_template(self, z: dict, side: float) -> dict:
        """The template features as the search graph will see them (``side``: the template crop's side
        in frame pixels). Siam-BM masks them here."""
        return z

    def _reference(self, frame):
        """Peak strength of the search on the init frame, centred on the target: the starting value
        of the running reference that later peaks are measured against."""
        self.frame_shape = frame.shape
        cand = self._search(frame, (self.cx, self.cy), explore=True)
        self._calibrate(cand)
        return max(self.p.lost.reference_init * float(cand["strength"]), 1e-3)

    def _calibrate(self, cand):
        """Per-target corrections measured on the init frame's search (``cand``); none by default."""

    def _search(self, frame, centre, explore):  # pragma: no cover - interface
        raise NotImplementedError

    def _accept(self, cand):  # pragma: no cover - interface
        raise NotImplementedError


class SiamFCTracker(_SiameseBase):
    """SiamFC multi-scale search; also runs SA-Siam artifacts (same score-map interface)."""

    name = "siamfc"
    Params = SiamFCParams

    def __init__(self, net: SiameseNet, params: SiamFCParams | None = None):
        super().__init__(net, params or self.Params())
        self.name = "sasiam" if net.geometry.get("tracker") == "sasiam" else "siamfc"

    def _candidates(self):
        """(scale factor, angle in degrees, penalty) for each crop searched per frame."""
        p = self.p
        return [(f, 0.0, pen) for f, pen in _scale_pyramid(p.num_scales, p.scale_step, p.scale_penalty)]

    def _search(self, frame, centre, explore):
        p, net = self.p, self.net
        _, sx = self._sides()
        best = None
        cands = [(1.0, 0.0, 1.0)] if explore and centre != (self.cx, self.cy) else self._candidates()
        for f, dang, pen in cands:
            side = sx * f
            ang = self.angle + dang
            crop, _ = affine_crop(frame, centre[0], centre[1], side, net.x_size, ang, pad=self.pad)
            logits = net.search(crop, self.z)["score"][0, 0]
            peak = float(logits.max())
            ranked = max(peak, 0.0) * pen  # as SiamFC: the penalty scales the response (a logit here)
            if best is None or ranked > best["ranked"]:
                best = {"ranked": ranked, "peak": peak, "logits": logits,
                        "f": f, "dang": dang, "side": side, "centre": centre, "ang": ang}
        best["strength"] = max(best["peak"], 0.0)  # a logit; ≤ 0 means "no better than chance"
        n = net.score_size * p.response_up
        r = cv2.resize(best["logits"].astype(np.float32), (n, n), interpolation=cv2.INTER_CUBIC)
        r -= r.min()
        r /= r.sum() + 1e-12
        wi = 0.0 if explore else p.window_influence
        r = (1 - wi) * r + wi * self.window
        pi, pj = np.unravel_index(int(r.argmax()), r.shape)
        best["disp"] = self._disp(pi, pj, p.response_up, best["side"], best["ang"])
        return best

    def _accept(self, c):
        p = self.p
        self.cx = c["centre"][0] + c["disp"][0]
        self.cy = c["centre"][1] + c["disp"][1]
        s = (1 - p.scale_lr) + p.scale_lr * c["f"]
        self.w, self.h = self.w * s, self.h * s
        H, W = self.frame_shape[:2]
        self.w, self.h = float(np.clip(self.w, p.min_size, W)), float(np.clip(self.h, p.min_size, H))


class SiamBMTracker(SiamFCTracker):
    """Siam-BM search over SA-Siam (or SiamFC) artifacts: 5 scale/angle candidates in one pass,
    reports a rotated box (``TrackResult.rotated``) and its axis-aligned bounding box."""

    Params = SiamBMParams

    def __init__(self, net: SiameseNet, params: SiamBMParams | None = None):
        super().__init__(net, params or self.Params())
        self.name = "siambm"

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
        span = (self.net.z_size + 1) / 2            # the correlated centre covers half the crop
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


class SPMTracker(_SiameseBase):
    """SPM-style coarse-to-fine: coarse candidates with boxes, fine embedding picks the target."""

    name = "spm"
    Params = SPMParams

    def __init__(self, net: SiameseNet, params: SPMParams | None = None):
        super().__init__(net, params or default_params(net.geometry.get("tracker", "spm")))
        self.name = net.geometry.get("tracker", "spm")
        self.size_gain = (1.0, 1.0)
        self._frame = 0  # frames since init: the pyramid runs on every ``scale_every``-th

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
        for f, pen in _scale_pyramid(p.num_scales, p.scale_step, p.scale_penalty):
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


# tracker name → (model whose artifacts it runs, class)
SIAMESE = {"siamfc": ("siamfc", SiamFCTracker), "sasiam": ("sasiam", SiamFCTracker),
           "siambm": ("sasiam", SiamBMTracker), "spm": ("spm", SPMTracker), "spm-lite": ("spm-lite", SPMTracker),
           "spm-nano": ("spm-nano", SPMTracker)}

# Per-tracker defaults where they differ from the class's (chosen by bench/tune_track.py on training
# material, BENCHMARKS.md). The full SPM runs the pyramid on every frame with its faster size update
# (size_lr 0.15): on 12 tracklets + 48 synthetic sequences 0.560 pooled AUC against 0.532 for its old
# one-crop setting, and 0.542 / 0.554 with the pyramid every other frame (scale_lr 0.3 / 0.5). The earlier
# 8-sequence tuning set had called one crop vs pyramid a tie (0.593 vs 0.586). spm-nano, the fast one, runs
# the pyramid on every other frame (2 crops per frame on average; tied with every frame on the 8-sequence
# set, 0.561 vs 0.559, so the faster setting).
DEFAULT_PARAMS = {"spm": lambda: SPMParams(size_lr=0.15),
                  "spm-nano": lambda: SPMParams(scale_every=2, scale_lr=0.5)}


def default_params(name: str):
    """A fresh copy of the default parameter object of Siamese tracker ``name``."""
    if name in DEFAULT_PARAMS:
        return DEFAULT_PARAMS[name]()
    return SIAMESE[name][1].Params()


def search_passes(name: str, params=None) -> float:
    """Search-graph passes per frame, on average, of Siamese tracker ``name`` with ``params`` (default: its
    defaults): a scale pyramid's crops (SPM's ``scale_every`` averages them with single-crop frames), or
    Siam-BM's 5 scale/angle candidates. What a per-frame cost model multiplies the search latency by."""
    p = params if params is not None else default_params(name)
    if isinstance(p, SiamBMParams):
        return 5.0
    n = max(int(p.num_scales), 1)
    every = max(int(getattr(p, "scale_every", 1)), 1)
    return (n + every - 1) / every


def siamese_tracker(name: str, art_dir="artifacts", fmt: str = "onnx", precision: str = "fp32",
                    backend: str = "auto", threads: int | None = None, params=None, ops: str | None = None):
    """Build a Siamese tracker from exported artifacts in ``art_dir``."""
    if name not in SIAMESE:
        raise TrackError(f"unknown Siamese tracker {name!r}; choose from {', '.join(SIAMESE)}")
    model, cls = SIAMESE[name]
    t, s = find_artifacts(art_dir, model, fmt, precision, ops)
    net = SiameseNet(t, s, model, backend, threads)
    return cls(net, params if params is not None else default_params(name))


"""Classic single-object trackers, torch-free: the baselines the Siamese trackers are measured against.

- :class:`MosseTracker`: the MOSSE correlation filter (Bolme et al., CVPR 2010), our own numpy FFT code.
- :class:`KLTTracker`: corners + pyramidal Lucas–Kanade with a forward–backward check, median motion.
- :class:`MILTracker`: OpenCV's ``TrackerMIL`` (Babenko et al. 2009) behind the common interface.

Every tracker keeps all of its tunables in one parameters dataclass (pytracking style), so a run is
described by ``(name, params)`` and nothing is hidden in module constants; each variant's values are in
``params/mosse.py``, ``params/klt.py``, ``params/mil.py``, read through :mod:`.registry`.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .base import Tracker, TrackError, TrackResult, clip_box
from .registry import default_params

__all__ = ["MosseParams", "MosseTracker", "KLTParams", "KLTTracker", "MILParams", "MILTracker"]


def _gray32(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)


# ----------------------------------------------------------------------------------------------- MOSSE


@dataclass
class MosseParams:
    """MOSSE tunables (values: ``params/mosse.py``).

    ``padding``: search window side / box side (context around the target). ``max_window``: the window is
    resampled so its longer side is at most this many pixels (FFT cost; the box size is fixed, so this
    is a fixed scale factor chosen at init). ``sigma``: std of the Gaussian target response, in window
    pixels. ``learning_rate``: running-average rate of the filter numerator/denominator.
    ``n_perturbations``: random affine warps of the first window that train the initial filter, with the
    unwarped window itself; ``perturb_rotation_deg`` / ``perturb_scale`` / ``perturb_shift`` bound them.
    ``reg``: added to the denominator (avoids division by ~0 at frequencies with no energy).
    ``psr_lost``: below this peak-to-sidelobe ratio the target is declared lost. ``psr_full``: the PSR that
    maps to score 1 (score = clip(PSR / psr_full, 0, 1)). ``sidelobe_exclude``: half-size of the square
    around the peak left out of the sidelobe statistics. ``max_window`` / ``min_window``: see above (tiny
    windows are enlarged so the Gaussian has room). ``seed``: RNG for the warps.
    """
    padding: float
    max_window: int
    min_window: int
    sigma: float
    learning_rate: float
    n_perturbations: int
    perturb_rotation_deg: float
    perturb_scale: float
    perturb_shift: float
    reg: float
    psr_lost: float
    psr_full: float
    sidelobe_exclude: int
    seed: int


class MosseTracker(Tracker):
    """Minimum Output Sum of Squared Error correlation filter, fixed box size (classic MOSSE).

    The filter lives in the Fourier domain as ``H* = A / B`` with ``A = Σ G·conj(F)`` and
    ``B = Σ F·conj(F)``, both running averages. Each frame the window around the last centre is
    preprocessed (log, zero mean / unit norm, cosine window), correlated with ``H*``, and the response
    peak gives the shift. The peak-to-sidelobe ratio (PSR) measures confidence: below ``psr_lost`` the
    target is called lost, the box stays where it was and the filter is not updated (so an occluder is
    not learned), and the next frame searches around the same place again.
    """

    name = "mosse"

    def __init__(self, params: MosseParams | None = None):
        super().__init__()
        self.params = params if params is not None else default_params(self.name)

    # -- window geometry
    def _crop(self, gray: np.ndarray, center) -> np.ndarray:
        """The padded window around ``center``, resampled to the fixed filter size (borders replicated)."""
        patch = cv2.getRectSubPix(gray, self._win_px, (float(center[0]), float(center[1])))
        if self._win_px != self._size:
            patch = cv2.resize(patch, self._size, interpolation=cv2.INTER_AREA)
        return patch

    def _preprocess(self, patch: np.ndarray) -> np.ndarray:
        """Log transform (tames lighting contrast), zero mean and unit norm, then the cosine window."""
        x = np.log1p(patch.astype(np.float32))
        x -= x.mean()
        norm = float(np.linalg.norm(x))
        x = x / norm if norm > 1e-6 else np.zeros_like(x)
        return x * self._cos

    def _perturb(self, patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A small random rotation / scale / shift of the window about its centre."""
        p = self.params
        h, w = patch.shape
        angle = rng.uniform(-p.perturb_rotation_deg, p.perturb_rotation_deg)
        scale = 1.0 + rng.uniform(-p.perturb_scale, p.perturb_scale)
        m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, scale)
        m[:, 2] += rng.uniform(-p.perturb_shift, p.perturb_shift, size=2) * (w, h)
        return cv2.warpAffine(patch, m, (w, h), borderMode=cv2.BORDER_REFLECT)

    def _init(self, frame, box):
        p = self.params
        x, y, w, h = box
        self._box_wh = (w, h)
        self._center = (x + w / 2.0, y + h / 2.0)
        # Window in frame pixels (padding × box), then one fixed resampling factor to the filter size.
        win_w, win_h = max(2, int(round(w * p.padding))), max(2, int(round(h * p.padding)))
        longest = max(win_w, win_h)
        # Large windows are shrunk (FFT cost), tiny ones enlarged (a 2-pixel Gaussian needs room).
        scale = p.max_window / longest if longest > p.max_window else max(1.0, p.min_window / longest)
        self._win_px = (win_w, win_h)
        self._size = (max(8, int(round(win_w * scale))), max(8, int(round(win_h * scale))))
        sw, sh = self._size
        self._scale = (sw / win_w, sh / win_h)  # per axis: rounding makes them differ slightly
        self._cos = np.outer(np.hanning(sh), np.hanning(sw)).astype(np.float32)
        ys, xs = np.mgrid[0:sh, 0:sw].astype(np.float32)
        # Gaussian peaked at the window centre; the response peak's offset from there is the motion.
        self._peak0 = ((sw - 1) / 2.0, (sh - 1) / 2.0)
        g = np.exp(-((xs - self._peak0[0]) ** 2 + (ys - self._peak0[1]) ** 2) / (2 * p.sigma ** 2))
        self._G = np.fft.fft2(g)
        patch = self._crop(_gray32(frame), self._center)
        rng = np.random.default_rng(p.seed)
        samples = [patch] + [self._perturb(patch, rng) for _ in range(p.n_perturbations)]
        self._A = np.zeros_like(self._G)
        self._B = np.zeros_like(self._G)
        for s in samples:
            F = np.fft.fft2(self._preprocess(s))
            self._A += self._G * np.conj(F)
            self._B += F * np.conj(F)
        self.last_psr = float("inf")

    def _psr(self, resp: np.ndarray, py: int, px: int) -> float:
        """Peak-to-sidelobe ratio: (peak − mean) / std of the response outside a square around the peak."""
        e = self.params.sidelobe_exclude
        mask = np.ones(resp.shape, bool)
        mask[max(0, py - e): py + e + 1, max(0, px - e): px + e + 1] = False
        side = resp[mask]
        std = float(side.std()) if side.size else 0.0
        if std < 1e-12:
            return 0.0
        return float((resp[py, px] - side.mean()) / std)

    def _update(self, frame):
        p = self.params
        gray = _gray32(frame)
        F = np.fft.fft2(self._preprocess(self._crop(gray, self._center)))
        H = self._A / (self._B + p.reg)
        resp = np.real(np.fft.ifft2(H * F))
        py, px = np.unravel_index(int(np.argmax(resp)), resp.shape)
        psr = self._psr(resp, py, px)
        self.last_psr = psr
        score = float(np.clip(psr / p.psr_full, 0.0, 1.0))
        w, h = self._box_wh
        last = (self._center[0] - w / 2.0, self._center[1] - h / 2.0, w, h)
        if not np.isfinite(psr) or psr < p.psr_lost:
            return TrackResult(last, score, lost=True, extra={"psr": psr})
        dx, dy = _subpixel(resp, py, px)
        # The response is circular: shifts past half the window wrap to negative ones.
        sw, sh = self._size
        ox = (px + dx - self._peak0[0] + sw / 2.0) % sw - sw / 2.0
        oy = (py + dy - self._peak0[1] + sh / 2.0) % sh - sh / 2.0
        cx = self._center[0] + ox / self._scale[0]
        cy = self._center[1] + oy / self._scale[1]
        H, W = frame.shape[:2]
        self._center = (float(np.clip(cx, 0, W)), float(np.clip(cy, 0, H)))  # fixed size, centre in frame
        box = (self._center[0] - w / 2.0, self._center[1] - h / 2.0, w, h)
        Fn = np.fft.fft2(self._preprocess(self._crop(gray, self._center)))
        lr = p.learning_rate
        self._A = lr * (self._G * np.conj(Fn)) + (1 - lr) * self._A
        self._B = lr * (Fn * np.conj(Fn)) + (1 - lr) * self._B
        return TrackResult(box, score, extra={"psr": psr})


def _subpixel(resp: np.ndarray, py: int, px: int) -> tuple[float, float]:
    """Parabolic refinement of the peak along x and y (circular neighbours), each offset in [-0.5, 0.5]."""
    h, w = resp.shape

    def fit(left, c, right):
        d = left - 2 * c + right
        return float(np.clip(0.5 * (left - right) / d, -0.5, 0.5)) if d < 0 else 0.0

    dx = fit(resp[py, (px - 1) % w], resp[py, px], resp[py, (px + 1) % w])
    dy = fit(resp[(py - 1) % h, px], resp[py, px], resp[(py + 1) % h, px])
    return dx, dy


# ----------------------------------------------------------------------------------------------- KLT


@dataclass
class KLTParams:
    """KLT tunables (values: ``params/klt.py``). Corners: ``max_corners``, ``quality``, ``min_distance`` (px),
    ``block_size``, found in the box shrunk by ``margin`` (fraction of w/h per side, keeps corners off the
    background at the edge).
    Lucas–Kanade: ``win_size``, ``max_level`` (pyramid levels), ``criteria_iters`` / ``criteria_eps``.
    ``fb_max_error``: a point survives when tracking it forward then backward lands within this many
    pixels of where it started; ``fb_median`` also drops the worse half by that error (Median Flow,
    Kalal et al. 2010).
    ``min_points``: fewer survivors → lost. ``redetect_below``: fewer than
    this many points left → corners are detected again in the new box. ``max_scale_step``: per-frame
    scale change is clamped to [1/m, m]. ``min_pair_distance``: point pairs closer than this (px) are
    ignored in the scale estimate (their ratio is noise).
    """
    max_corners: int
    quality: float
    min_distance: float
    block_size: int
    margin: float
    win_size: tuple[int, int]
    max_level: int
    criteria_iters: int
    criteria_eps: float
    fb_max_error: float
    fb_median: bool
    min_points: int
    redetect_below: int
    max_scale_step: float
    min_pair_distance: float


class KLTTracker(Tracker):
    """Sparse optical flow: corners in the box, tracked by pyramidal Lucas–Kanade.

    A point is kept when LK succeeds both ways and the forward–backward error is small. The box moves by
    the median displacement of the kept points and scales by the median ratio of their pairwise distances
    (new / old), keeping its aspect ratio. ``score`` is the fraction of points that survived this frame;
    with fewer than ``min_points`` survivors the target is lost and the box stays put. Corners are detected
    again in the current box when too few are left (including after a loss, so tracking can resume).
    """

    name = "klt"

    def __init__(self, params: KLTParams | None = None):
        super().__init__()
        self.params = params if params is not None else default_params(self.name)

    def _detect(self, gray: np.ndarray, box) -> np.ndarray:
        p = self.params
        x, y, w, h = box
        H, W = gray.shape
        x0, y0 = int(max(0, np.floor(x + p.margin * w))), int(max(0, np.floor(y + p.margin * h)))
        x1, y1 = int(min(W, np.ceil(x + (1 - p.margin) * w))), int(min(H, np.ceil(y + (1 - p.margin) * h)))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return np.empty((0, 1, 2), np.float32)
        mask = np.zeros_like(gray)
        mask[y0:y1, x0:x1] = 255
        pts = cv2.goodFeaturesToTrack(gray, p.max_corners, p.quality, p.min_distance, mask=mask,
                                      blockSize=p.block_size)
        return np.empty((0, 1, 2), np.float32) if pts is None else pts.astype(np.float32)

    def _init(self, frame, box):
        self._gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        self._box = tuple(box)
        self._pts = self._detect(self._gray, box)

    def _lk(self, a, b, pts):
        p = self.params
        crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, p.criteria_iters, p.criteria_eps)
        return cv2.calcOpticalFlowPyrLK(a, b, pts, None, winSize=tuple(p.win_size), maxLevel=p.max_level,
                                        criteria=crit)

    def _update(self, frame):
        p = self.params
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        prev, pts, box = self._gray, self._pts, self._box
        n0 = len(pts)
        good, nxt = np.zeros(0, bool), pts
        if n0:
            nxt, st1, _ = self._lk(prev, gray, pts)
            back, st2, _ = self._lk(gray, prev, nxt)
            fb = np.linalg.norm((back - pts).reshape(-1, 2), axis=1)
            good = (st1.ravel() == 1) & (st2.ravel() == 1) & (fb <= p.fb_max_error)
            if p.fb_median and good.sum() > 2 * p.min_points:
                good &= fb <= np.median(fb[good])
        n = int(good.sum())
        score = n / n0 if n0 else 0.0
        self._gray = gray
        if n < p.min_points:
            # Lost: keep the box, look for fresh corners there so tracking can pick up again.
            self._pts = self._detect(gray, box)
            return TrackResult(box, score, lost=True, extra={"points": n})
        old = pts.reshape(-1, 2)[good]
        new = nxt.reshape(-1, 2)[good]
        dx, dy = np.median(new - old, axis=0)
        s = _median_scale(old, new, p.min_pair_distance)
        s = float(np.clip(s, 1.0 / p.max_scale_step, p.max_scale_step))
        x, y, w, h = box
        cx, cy = x + w / 2.0 + dx, y + h / 2.0 + dy
        box = clip_box((cx - w * s / 2.0, cy - h * s / 2.0, w * s, h * s), frame.shape)
        self._box = box
        self._pts = new.reshape(-1, 1, 2).astype(np.float32)
        if n < p.redetect_below:
            fresh = self._detect(gray, box)
            if len(fresh) > n:
                self._pts = fresh
        return TrackResult(box, score, extra={"points": n})


def _median_scale(old: np.ndarray, new: np.ndarray, min_dist: float) -> float:
    """Median of |new_i − new_j| / |old_i − old_j| over point pairs whose old distance is ≥ ``min_dist``."""
    if len(old) < 2:
        return 1.0
    i, j = np.triu_indices(len(old), k=1)
    d_old = np.linalg.norm(old[i] - old[j], axis=1)
    d_new = np.linalg.norm(new[i] - new[j], axis=1)
    keep = d_old >= min_dist
    return float(np.median(d_new[keep] / d_old[keep])) if keep.any() else 1.0


# ----------------------------------------------------------------------------------------------- MIL


@dataclass
class MILParams:
    """``cv2.TrackerMIL_Params`` fields; None keeps OpenCV's default. ``extra`` sets any other field by name
    (values: ``params/mil.py``)."""
    sampler_init_in_radius: float | None
    sampler_search_win_size: float | None
    feature_set_num_features: int | None
    extra: dict


class MILTracker(Tracker):
    """OpenCV's Multiple Instance Learning tracker. It reports no confidence, so ``score`` is 1.0 when its
    update succeeds; when it fails the result is lost with score 0 and the last box.

    OpenCV's MIL needs its box inside the image and not tiny, so it starts from the part of the init box
    inside the frame, enlarged to at least 5×5 px; its boxes (and so the reported boxes) are whole pixels.
    Runs are not repeatable: MIL draws features and samples from OpenCV's RNG, and ``cv2.setRNGSeed``
    before init did not make two runs agree here (mean IoU 0.78–0.98 over 10 runs of one 40-frame clip).
    """

    name = "mil"

    def __init__(self, params: MILParams | None = None):
        super().__init__()
        self.params = params if params is not None else default_params(self.name)

    def _init(self, frame, box):
        if not hasattr(cv2, "TrackerMIL_create"):
            raise TrackError(f"this OpenCV ({cv2.__version__}) has no TrackerMIL_create")
        cp = cv2.TrackerMIL_Params()
        values = {"samplerInitInRadius": self.params.sampler_init_in_radius,
                  "samplerSearchWinSize": self.params.sampler_search_win_size,
                  "featureSetNumFeatures": self.params.feature_set_num_features, **self.params.extra}
        for k, v in values.items():
            if v is not None:
                if not hasattr(cp, k):
                    raise TrackError(f"cv2.TrackerMIL_Params has no field {k!r}")
                setattr(cp, k, v)
        # OpenCV's MIL asserts when its sample windows fall outside the image: give it the part of the box
        # inside the frame, and if that still fails (a box near the full frame), one shrunk to 90% of it.
        H, W = frame.shape[:2]
        x, y, w, h = box
        x0, y0 = max(0.0, x), max(0.0, y)
        x1, y1 = min(float(W), x + w), min(float(H), y + h)
        # It also never returns from init on tiny boxes (4×4, 2×10, 1×40 here): make the box >= 5×5.
        cw, ch = max(5.0, x1 - x0), max(5.0, y1 - y0)
        x0 = float(np.clip((x0 + x1 - cw) / 2, 0, max(0.0, W - cw)))
        y0 = float(np.clip((y0 + y1 - ch) / 2, 0, max(0.0, H - ch)))
        inside = (int(round(x0)), int(round(y0)), int(round(cw)), int(round(ch)))
        bw, bh = min(inside[2], int(0.9 * W)), min(inside[3], int(0.9 * H))
        cx, cy = inside[0] + inside[2] / 2, inside[1] + inside[3] / 2
        shrunk = (int(np.clip(cx - bw / 2, 0, W - bw)), int(np.clip(cy - bh / 2, 0, H - bh)), bw, bh)
        for b in (inside, shrunk):
            self._t = cv2.TrackerMIL_create(cp)
            try:
                self._t.init(frame, b)
                return
            except cv2.error as e:
                err = str(e).strip().splitlines()[-1]
        raise TrackError(f"mil: OpenCV's TrackerMIL cannot start on box {inside} in a {W}×{H} frame ({err})")

    def _update(self, frame):
        ok, b = self._t.update(frame)
        if not ok:
            return TrackResult(self.box, 0.0, lost=True)
        return TrackResult(tuple(float(v) for v in b), 1.0)


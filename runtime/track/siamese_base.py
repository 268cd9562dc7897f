"""What every Siamese tracker shares (torch-free): the two sessions, the crop geometry, the lost state.

Each tracker runs two static-shape graphs exported by ``edgecv export MODEL``: the *template* graph
once at init (127² crop → template features) and the *search* graph per frame (255² crop + template
features → score maps). Each family's logic lives in its own module (``siamfc.py``:
SiamFC and SA-Siam, ``siambm.py``, ``spm.py``), each variant's numbers in one parameter definition in
``params/`` (pytracking style), read through :mod:`.registry`, so tuning never touches the loop.

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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import bundle, load
from .base import Tracker, TrackError, TrackResult, clip_box
from .crop import affine_crop, crop_side, to_nchw

__all__ = ["LostParams", "SiameseNet", "SiameseTracker", "find_artifacts", "scale_pyramid",
           "size_change_penalty"]


@dataclass
class LostParams:
    """The lost state's numbers (values: ``params/lost.py``, shared by every Siamese variant)."""
    lost_below: float                  # confidence (peak / reference) under which the target is lost
    found_above: float                 # confidence needed to re-acquire while lost
    reference_lr: float                # running average of confident peaks
    reference_init: float              # the init frame's peak × this starts the reference
    redetect_tiles: int                # extra ring crops searched per frame while lost
    redetect_ring: float               # ring radius, in search-crop sides


def size_change_penalty(w, h, ref_w: float, ref_h: float, k: float) -> np.ndarray:
    """SiamRPN's penalty on the change of size and aspect from the current box (``ref_w`` × ``ref_h``) to each
    cell's box (``w`` × ``h``, arrays, same units): ``exp(−k·(s · r − 1))`` with ``s`` the change of the padded
    size ``√((w + p)(h + p))``, ``p = (w + h) / 2``, and ``r`` the change of aspect, each taken ≥ 1."""
    def padded(a, b):
        q = (a + b) / 2
        return np.sqrt((a + q) * (b + q))

    s = padded(w, h) / padded(ref_w, ref_h)
    r = (w / np.maximum(h, 1e-6)) / (ref_w / ref_h)
    return np.exp(-k * (np.maximum(s, 1 / s) * np.maximum(r, 1 / r) - 1))


def scale_pyramid(num_scales: int, step: float, penalty: float) -> list[tuple[float, float]]:
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


class SiameseTracker(Tracker):
    """The loop every Siamese family shares: init (template, reference), search around the last
    position (plus the ring while lost), the confidence and the lost state. A family supplies
    ``_search`` and ``_accept`` (and ``search_passes``, what the planner multiplies the search latency by)."""

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
        crop = self._crop(frame, self.cx, self.cy, sz, self.net.z_size)
        self.z = self._prepare_template(self.net.template(crop), sz)
        self.lost = False
        self.last_box = box
        self.ref = self._reference(frame)

    def _crop(self, frame, cx, cy, side, out):
        """The ``out``² crop of ``side`` frame pixels centred on (cx, cy) (sub-pixel, padded with the frame's
        mean); a family whose model was trained on another crop convention overrides it."""
        return affine_crop(frame, cx, cy, side, out, pad=self.pad)[0]

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

    @staticmethod
    def search_passes(params) -> float:  # pragma: no cover - interface
        """Search-graph passes per frame, on average, with ``params``."""
        raise NotImplementedError

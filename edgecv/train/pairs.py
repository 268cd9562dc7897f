"""Training pairs for Siamese trackers, cut from real photos and video frames with exact labels.

Three kinds of pair, all in SiamFC geometry (template 127², search 255², see
:mod:`edgecv.models.siamese`):

- ``same``: a random box of a real image is the target; the search crop is the same image under a
  random similarity (shift, scale, rotation) plus colour, blur and occlusion. The target's place in
  the search crop is the transformed box, so the label is exact.
- ``video``: a person in two frames of the static-camera training video, boxes from mined tracklets
  (:mod:`edgecv.train.tracklets`); other people are same-kind distractors.
- ``composite``: an object (a patch of a real photo under an elliptical matte) is pasted on real
  video/photo backgrounds, in the template at the centre and in the search crop at a random place,
  with a change of scale, aspect ratio, rotation and colour. ``same-kind`` distractors, other patches
  of the same photo, are pasted around it: positives for the coarse stage of the SPM-style tracker,
  negatives for everything that must pick out *the* target (SiamFC, SA-Siam, SPM's fine stage).

Only the training split is used: the left 70% of each photo, the first 70% of each video.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from edgecv.runtime.track.crop import affine_crop as _affine_crop
from edgecv.runtime.track.crop import crop_matrix, crop_side

from .. import data

Z_SIZE, X_SIZE = 127, 255


@dataclass
class Pair:
    template: np.ndarray          # 127×127×3 BGR uint8
    search: np.ndarray            # 255×255×3 BGR uint8
    box: tuple | None             # target (cx, cy, w, h) in search-crop pixels; None: not in the crop
    distractors: list = field(default_factory=list)  # same-kind objects' (cx, cy, w, h)
    kind: str = "same"
    template_box: tuple | None = None  # target (w, h) in template-crop pixels (centred in the crop)


def _photometric(img, rng, occlude=True):
    x = img.astype(np.float32)
    x = x * rng.uniform(0.7, 1.3) + rng.uniform(-20, 20)
    x = x * rng.uniform(0.88, 1.12, size=3)
    if rng.random() < 0.2:
        x = cv2.GaussianBlur(x, (5, 5), rng.uniform(0.6, 1.6))
    if rng.random() < 0.15:  # motion blur
        k = np.zeros((7, 7), np.float32)
        k[3] = 1 / 7
        x = cv2.filter2D(x, -1, cv2.warpAffine(k, cv2.getRotationMatrix2D((3, 3), rng.uniform(0, 180), 1), (7, 7)))
    if rng.random() < 0.1:
        x = np.repeat(x.mean(2, keepdims=True), 3, 2)
    return np.clip(x, 0, 255).astype(np.uint8)


def _occlude(img, box, rng):
    """Cover up to 40% of the target box with a block of another colour or texture."""
    cx, cy, w, h = box
    ow, oh = w * rng.uniform(0.2, 0.6), h * rng.uniform(0.2, 0.6)
    x0 = int(cx - w / 2 + rng.uniform(0, w - ow))
    y0 = int(cy - h / 2 + rng.uniform(0, h - oh))
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(img.shape[1], int(x0 + ow)), min(img.shape[0], int(y0 + oh))
    if x1 > x0 and y1 > y0:
        img = img.copy()
        img[y0:y1, x0:x1] = rng.integers(0, 255, size=3)
    return img


def matte_patch(src, w, h, rng):
    """A w×h patch of ``src`` at a random place with a soft matte between an ellipse and a rectangle:
    (patch float32 H×W×3, alpha H×W). The object of composite pairs and synthetic tracks."""
    H, W = src.shape[:2]
    pw, ph = int(min(W - 1, max(8, w))), int(min(H - 1, max(8, h)))
    x0, y0 = int(rng.integers(0, W - pw)), int(rng.integers(0, H - ph))
    patch = src[y0:y0 + ph, x0:x0 + pw].astype(np.float32)
    yy, xx = np.mgrid[0:ph, 0:pw]
    r = ((xx - (pw - 1) / 2) / (pw / 2)) ** 2 + ((yy - (ph - 1) / 2) / (ph / 2)) ** 2
    shape = rng.uniform(0.0, 1.0)  # 0: ellipse, 1: nearly a rectangle
    rr = np.maximum(r, shape * np.maximum(((xx - (pw - 1) / 2) / (pw / 2)) ** 8,
                                          ((yy - (ph - 1) / 2) / (ph / 2)) ** 8))
    alpha = np.clip((1.0 - rr) * 6, 0, 1).astype(np.float32)
    return patch, alpha


def framed_patch(src, w, h, rng):
    """A w×h *card*: a photo patch inside a plain margin (a board, a poster, a screen, a book cover), its outline
    a hard rectangle: (patch float32 H×W×3, alpha H×W). The high-contrast part is inside; only the outline
    tells where the object ends, so a head learns to read the outline, not the texture's extent. Margins 5-25%
    of each side (each its own), a plain tone dark or light or of any colour with sensor noise and a little
    shading, sometimes a thin rim of another tone at the edge."""
    H, W = src.shape[:2]
    pw, ph = int(min(W - 1, max(12, w))), int(min(H - 1, max(12, h)))
    ml, mr = (int(round(pw * rng.uniform(0.05, 0.25))) for _ in range(2))
    mt, mb = (int(round(ph * rng.uniform(0.05, 0.25))) for _ in range(2))
    iw, ih = max(4, pw - ml - mr), max(4, ph - mt - mb)
    x0, y0 = int(rng.integers(0, W - iw)), int(rng.integers(0, H - ih))
    u = rng.random()
    tone = (rng.uniform(0, 50, 3) if u < 0.4 else rng.uniform(200, 255, 3) if u < 0.7
            else rng.uniform(0, 255, 3)).astype(np.float32)
    yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float32)
    shade = 1.0 + rng.uniform(-0.15, 0.15) * (xx / pw - 0.5) + rng.uniform(-0.15, 0.15) * (yy / ph - 0.5)
    patch = tone[None, None, :] * shade[..., None] + rng.normal(0, rng.uniform(1, 6), (ph, pw, 1)).astype(np.float32)
    rim = int(rng.integers(1, 4)) if rng.random() < 0.3 else 0
    if rim:
        edge = np.zeros((ph, pw), bool)
        edge[:rim], edge[-rim:], edge[:, :rim], edge[:, -rim:] = True, True, True, True
        patch[edge] = rng.uniform(0, 255, 3).astype(np.float32)
    patch[mt:mt + ih, ml:ml + iw] = src[y0:y0 + ih, x0:x0 + iw].astype(np.float32)
    alpha = np.ones((ph, pw), np.float32)
    alpha[0, :] = alpha[-1, :] = alpha[:, 0] = alpha[:, -1] = 0.5  # a crisp edge, half a pixel soft
    return np.clip(patch, 0, 255), alpha


def tilt_homography(cx: float, cy: float, about_x: float, about_y: float, focal: float) -> np.ndarray:
    """3×3 map of crop pixels when the plane seen at (cx, cy) turns by ``about_x`` / ``about_y`` degrees
    about the horizontal / vertical axis through that point, seen by a pinhole of ``focal`` pixels. The point
    itself stays put; the far side shrinks, the near side grows (foreshortening, as a tilted board)."""
    a, b = math.radians(about_x), math.radians(about_y)
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    r = ry @ rx
    # plane point (x, y, 0) at depth ``focal`` → r·(x, y, 0) + (0, 0, focal), projected with the same focal
    hom = np.array([[r[0, 0], r[0, 1], 0.0], [r[1, 0], r[1, 1], 0.0], [r[2, 0] / focal, r[2, 1] / focal, 1.0]])
    t = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1.0]])
    return t @ hom @ np.linalg.inv(t)


def _homogeneous(m: np.ndarray) -> np.ndarray:
    """A 2×3 affine map as 3×3, to compose with a homography."""
    return np.vstack([m, [0, 0, 1]])


def _warp_view(img, full: np.ndarray, out: int) -> np.ndarray:
    """The out×out crop that the 3×3 map ``full`` (image → crop pixels) makes, padded with the image's mean."""
    pad = tuple(float(v) for v in img.reshape(-1, 3).mean(0))
    return cv2.warpPerspective(img, full, (out, out), flags=cv2.INTER_LINEAR, borderValue=pad)


def warped_box(hom: np.ndarray, rect) -> tuple:
    """(cx, cy, w, h) of the axis-aligned box around rectangle ``rect`` (x0, y0, x1, y1) mapped by ``hom``."""
    x0, y0, x1, y1 = rect
    pts = cv2.perspectiveTransform(np.array([[[x0, y0]], [[x1, y0]], [[x1, y1]], [[x0, y1]]], np.float64), hom)[:, 0]
    lo, hi = pts.min(0), pts.max(0)
    return float((lo[0] + hi[0]) / 2), float((lo[1] + hi[1]) / 2), float(hi[0] - lo[0]), float(hi[1] - lo[1])


def image_segments(images, max_side: int = 400, min_area: float = 0.01, max_area: float = 0.25,
                   min_fill: float = 0.45, max_aspect: float = 4.0) -> list:
    """Object-like regions of real images: graph-based segments (Felzenszwalb's, scikit-image) covering
    ``min_area``..``max_area`` of the image, off its border, filling at least ``min_fill`` of their box and no
    longer than ``max_aspect``:1. Returns ``[(image index, (x0, y0, mask))]``, the mask (uint8 0/255) at the image's
    resolution over the region's box."""
    from skimage.segmentation import felzenszwalb

    out = []
    for k, img in enumerate(images):
        s = min(1.0, max_side / max(img.shape[:2]))
        small = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else img
        H, W = small.shape[:2]
        seg = felzenszwalb(small[:, :, ::-1], scale=400, sigma=0.8, min_size=max(16, int(0.004 * H * W)))
        for lab in range(int(seg.max()) + 1):
            m = seg == lab
            a = int(m.sum())
            if not min_area * H * W <= a <= max_area * H * W:
                continue
            ys, xs = np.nonzero(m)
            x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
            bw, bh = x1 - x0 + 1, y1 - y0 + 1
            if x0 == 0 or y0 == 0 or x1 == W - 1 or y1 == H - 1 or a < min_fill * bw * bh:
                continue
            if max(bw / bh, bh / bw) > max_aspect:
                continue
            crop = m[y0:y1 + 1, x0:x1 + 1].astype(np.uint8) * 255
            full = cv2.resize(crop, (max(1, round(bw / s)), max(1, round(bh / s))), interpolation=cv2.INTER_LINEAR)
            out.append((k, (float(x0 / s), float(y0 / s), full)))
    return out


class PairSampler:
    """Draws :class:`Pair` s from the training split (``split="heldout"`` for validation pairs)."""

    def __init__(self, split: str = "train", seed: int = 0, composite_fraction: float = 0.35,
                 video_fraction: float = 0.35, max_side: int = 640, z_size: int = Z_SIZE, x_size: int = X_SIZE,
                 absent_fraction: float = 0.0, aspect_range: float = 0.7, shape_change: float = 0.0,
                 scale_change: float = 0.25, tilt: float = 0.0, tilt_fraction: float = 0.5,
                 template_tilt: bool = False, extent_labels: bool = False, segment_fraction: float = 0.0,
                 framed_fraction: float = 0.0):
        """``z_size`` / ``x_size``: the template and search crop sides (SiamFC's 127 / 255 by default).
        ``absent_fraction``: share of pairs whose search crop does not hold the target (``Pair.box`` None):
        negatives that teach a tracker's score to fall when the target has left. ``aspect_range``: the random
        boxes' log aspect ratio is uniform in ±this (0.7: 1:2 to 2:1). ``shape_change`` > 0: the target's log
        aspect ratio changes between template and search by up to ±this in ``same`` and ``composite`` pairs (a
        board tilting away, a person bending), instead of ±0.1 / ±0.15. ``scale_change``: the target's log
        size changes by up to ±this between template and search in those pairs. ``tilt`` > 0: a share
        ``tilt_fraction`` of those pairs turn the target's plane out of the image by up to ``tilt`` degrees
        (a perspective warp, :func:`tilt_homography`); the label is the box around the warped rectangle.
        ``template_tilt``: the ``same`` and ``segment`` pairs turn the template's view too (:meth:`_same_tilted`,
        :meth:`_segment_tilted`), so the box grows as well as shrinks along the turning axis.
        ``extent_labels``: every ``same``/``composite`` label is the axis-aligned box of the
        target as placed, in-plane rotation included (OTB's convention, and :mod:`synth_tracks`'); without it a
        rotated target keeps its unrotated width and height (the earlier recipes' labels). ``segment_fraction``:
        share of ``segment`` pairs (:meth:`_segment`): the target is a region of a real image bounded by its own
        edges (a graph-based segment), seen again under the search view's warp; the label is the box of the
        warped region, so the target's extent is in the image, as a real object's is. ``framed_fraction``: share
        of the composites' objects (target and look-alikes) drawn as framed cards (:func:`framed_patch`) instead of
        soft mattes: the object's extent is its outline, beyond its textured part."""
        from .tracklets import mine

        self.z_size, self.x_size = z_size, x_size
        self.absent_fraction = absent_fraction
        self.aspect_range = aspect_range
        self.shape_change = shape_change
        self.scale_change, self.tilt, self.tilt_fraction = scale_change, tilt, tilt_fraction
        self.template_tilt = template_tilt
        self.extent_labels = extent_labels
        self.rng = np.random.default_rng(seed)
        self.composite_fraction = composite_fraction
        self.video_fraction = video_fraction
        self.vframes, self.vdets, self.tracklets = mine("vtest.avi", split, min_len=8 if split == "train" else 5)
        photos = [im for _, _, im in data.photo_parts(split)]
        frames = []
        for name in data.SCENE_VIDEOS:
            frames += data.video_part(name, split, step=4 if split == "train" else 8)
        self.photos = [self._shrink(p, max_side) for p in photos]
        self.frames = [self._shrink(f, max_side) for f in frames]
        self.images = self.photos + self.frames
        self.segment_fraction = segment_fraction
        self.segments = image_segments(self.images) if segment_fraction > 0 else []
        self.framed_fraction = framed_fraction

    @staticmethod
    def _shrink(img, max_side):
        s = max_side / max(img.shape[:2])
        return cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else img

    def _random_box(self, img, lo=0.08, hi=0.45):
        rng = self.rng
        H, W = img.shape[:2]
        side = rng.uniform(lo, hi) * min(H, W)
        ar = math.exp(rng.uniform(-self.aspect_range, self.aspect_range))
        w, h = max(12.0, side * math.sqrt(ar)), max(12.0, side / math.sqrt(ar))
        w, h = min(w, W - 2), min(h, H - 2)
        cx = rng.uniform(w / 2, W - w / 2)
        cy = rng.uniform(h / 2, H - h / 2)
        return cx, cy, w, h

    def sample(self) -> Pair:
        if self.absent_fraction and self.rng.random() < self.absent_fraction:
            return self._absent()
        u = self.rng.random()
        if u < self.video_fraction and self.tracklets:
            return self._video()
        if u < self.video_fraction + self.composite_fraction:
            return self._composite()
        if u < self.video_fraction + self.composite_fraction + self.segment_fraction and self.segments:
            return self._segment()
        return self._same()

    def _video(self) -> Pair:
        """A person in frame t (template) and t + Δ (search), Δ up to 40 frames; other people are
        same-kind distractors."""
        rng = self.rng
        tr = self.tracklets[int(rng.integers(len(self.tracklets)))]
        i = int(rng.integers(len(tr.frames) - 1))
        j = int(min(len(tr.frames) - 1, i + rng.integers(1, 41)))
        x, y, w, h = tr.boxes[i]
        sz = crop_side(w, h)
        template, _ = _affine_crop(self.vframes[tr.frames[i]], x + w / 2, y + h / 2, sz, self.z_size)
        sx = sz * self.x_size / self.z_size * math.exp(rng.uniform(-0.2, 0.2))
        shift = rng.uniform(-0.25, 0.25, size=2) * sx
        frame = self.vframes[tr.frames[j]]
        search, m = _affine_crop(frame, x + w / 2 + shift[0], y + h / 2 + shift[1], sx, self.x_size)
        k = self.x_size / sx

        def to_crop(b):
            c = m @ np.array([b[0] + b[2] / 2, b[1] + b[3] / 2, 1.0])
            return float(c[0]), float(c[1]), float(b[2] * k), float(b[3] * k)

        target = tr.boxes[j]
        box = to_crop(target)
        lo, hi = self.x_size * 0.15, self.x_size * 0.85
        if not (lo < box[0] < hi and lo < box[1] < hi):
            return self._video()  # the person walked out of the search crop: draw again
        distractors = []
        for d in self.vdets[tr.frames[j]]:
            if np.abs(d - target).max() < 1e-3:
                continue
            cb = to_crop(d)
            if 0 <= cb[0] < self.x_size and 0 <= cb[1] < self.x_size:
                distractors.append(cb)
        search = _photometric(search, rng)
        if rng.random() < 0.1:
            search = _occlude(search, box, rng)
        k_z = self.z_size / sz
        return Pair(_photometric(template, rng), search, box, distractors, "video", (w * k_z, h * k_z))

    def _absent(self) -> Pair:
        """A template from one place and a search crop from another image (or far from it in the same one):
        no target in the search crop. Half of them show the template's own kind of material (same image)."""
        rng = self.rng
        pair = self._same() if rng.random() < 0.5 else self._composite()
        img = self.images[int(rng.integers(len(self.images)))]
        cx, cy, w, h = self._random_box(img, 0.3, 0.9)
        side = max(w, h) * rng.uniform(0.8, 1.6)
        search, _ = _affine_crop(img, cx, cy, side, self.x_size)
        return Pair(pair.template, _photometric(search, rng), None, [], "absent", pair.template_box)

    def _same(self) -> Pair:
        rng = self.rng
        img = self.images[int(rng.integers(len(self.images)))]
        cx, cy, w, h = self._random_box(img)
        if self.tilt and self.template_tilt and rng.random() < self.tilt_fraction:
            return self._same_tilted(img, (cx, cy, w, h))
        sz = crop_side(w, h)
        template, _ = _affine_crop(img, cx, cy, sz, self.z_size)
        sx = sz * self.x_size / self.z_size
        scale = math.exp(rng.uniform(-self.scale_change, self.scale_change))
        angle = rng.uniform(-12, 12) if rng.random() < 0.5 else 0.0
        da = self.shape_change or 0.1
        aspect = math.exp(rng.uniform(-da, da))
        shift = rng.uniform(-0.28, 0.28, size=2) * sx
        search, m = _affine_crop(img, cx + shift[0], cy + shift[1], sx * scale, self.x_size, angle, aspect)
        tcx, tcy = m @ np.array([cx, cy, 1.0])
        k = self.x_size / (sx * scale)
        box = (float(tcx), float(tcy), w * k * aspect, h * k)
        if self.tilt and not self.template_tilt and rng.random() < self.tilt_fraction:  # the search view turned
            hom = tilt_homography(tcx, tcy, *self._tilt_angles(), focal=self.x_size)
            full = hom @ _homogeneous(m)
            search = _warp_view(img, full, self.x_size)
            box = warped_box(full, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
        elif self.template_tilt or self.extent_labels:  # the box around the turned rectangle (OTB's convention)
            box = warped_box(_homogeneous(m), (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
        search = _photometric(search, rng)
        if rng.random() < 0.2:
            search = _occlude(search, box, rng)
        k_z = self.z_size / sz
        return Pair(_photometric(template, rng), search, box, [], "same", (w * k_z, h * k_z))

    def _segment(self) -> Pair:
        """A real region with edges of its own (:func:`image_segments`) as the target: the template crop around
        its box, the search crop under a shift, scale, aspect change, rotation and (a share ``tilt_fraction``)
        an out-of-plane turn; the label is the box of the region's mask under the same map (exact)."""
        rng = self.rng
        k_img, (x0, y0, mask) = self.segments[int(rng.integers(len(self.segments)))]
        img = self.images[k_img]
        if self.tilt and self.template_tilt and rng.random() < self.tilt_fraction:
            return self._segment_tilted(img, x0, y0, mask)
        h, w = mask.shape
        cx, cy = x0 + w / 2, y0 + h / 2
        sz = crop_side(w, h)
        template, _ = _affine_crop(img, cx, cy, sz, self.z_size)
        sx = sz * self.x_size / self.z_size * math.exp(rng.uniform(-self.scale_change, self.scale_change))
        angle = rng.uniform(-12, 12) if rng.random() < 0.5 else 0.0
        da = self.shape_change or 0.1
        shift = rng.uniform(-0.28, 0.28, size=2) * sx
        full = _homogeneous(crop_matrix(cx + shift[0], cy + shift[1], sx, self.x_size, angle,
                                        math.exp(rng.uniform(-da, da))))
        if self.tilt and rng.random() < self.tilt_fraction:
            tcx, tcy = (full @ np.array([cx, cy, 1.0]))[:2]
            full = tilt_homography(tcx, tcy, *self._tilt_angles(), focal=self.x_size) @ full
        return self._segment_pair(img, x0, y0, mask, full, template, (w, h), sz)

    def _segment_pair(self, img, x0, y0, mask, full, template, template_wh, sz) -> Pair:
        """The search crop that the 3×3 map ``full`` (image → crop pixels) makes, labelled by the region's mask
        under the same map (exact); the template box is ``template_wh`` (image px) at the template's ``sz``."""
        rng = self.rng
        search = _warp_view(img, full, self.x_size)
        # the mask (in its bbox) → search crop: shift by the bbox corner first
        m = cv2.warpPerspective(mask, full @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1.0]]),
                                (self.x_size, self.x_size), flags=cv2.INTER_LINEAR)
        ys, xs = np.nonzero(m >= 128)
        if len(xs) < 16:
            return self._segment()   # the region left the crop: draw again
        box = (float(xs.min() + xs.max() + 1) / 2, float(ys.min() + ys.max() + 1) / 2,
               float(xs.max() + 1 - xs.min()), float(ys.max() + 1 - ys.min()))
        search = _photometric(search, rng)
        if rng.random() < 0.15:
            search = _occlude(search, box, rng)
        k_z = self.z_size / sz
        return Pair(_photometric(template, rng), search, box, [], "segment",
                    (template_wh[0] * k_z, template_wh[1] * k_z))

    def _segment_tilted(self, img, x0, y0, mask) -> Pair:
        """A ``segment`` pair whose region is seen at two tilts about one axis (each up to ``tilt`` degrees):
        the template view turned too, and cropped around the box of the region as that view shows it (as the
        user would draw it), so between template and search the region opens up as well as narrows, e.g. a
        board seen edge-on that turns to face the camera. Both boxes come from the region's own pixels."""
        rng = self.rng
        h, w = mask.shape
        cx, cy = x0 + w / 2, y0 + h / 2
        about = int(rng.integers(2))  # 0: about the horizontal axis, 1: the vertical one
        focal = crop_side(w, h) * self.x_size / self.z_size
        contour = np.concatenate(cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)[0])
        contour = contour.reshape(-1, 1, 2).astype(np.float64) + (x0, y0)

        def view(t):
            angles = [rng.uniform(-0.15, 0.15) * self.tilt] * 2
            angles[about] = t
            return tilt_homography(cx, cy, *angles, focal=focal)

        def extent(hom):
            pts = cv2.perspectiveTransform(contour, hom)[:, 0]
            lo, hi = pts.min(0) - 0.5, pts.max(0) + 0.5
            return (lo + hi) / 2, hi - lo

        g_t = view(rng.uniform(-self.tilt, self.tilt))
        (tcx, tcy), (tw, th) = extent(g_t)
        sz = crop_side(tw, th)
        template = _warp_view(img, _homogeneous(crop_matrix(tcx, tcy, sz, self.z_size)) @ g_t, self.z_size)
        g_s = view(rng.uniform(-self.tilt, self.tilt))
        (scx, scy), _ = extent(g_s)
        sx = sz * self.x_size / self.z_size * math.exp(rng.uniform(-self.scale_change, self.scale_change))
        angle = rng.uniform(-12, 12) if rng.random() < 0.5 else 0.0
        da = self.shape_change or 0.1
        shift = rng.uniform(-0.28, 0.28, size=2) * sx
        full = _homogeneous(crop_matrix(scx + shift[0], scy + shift[1], sx, self.x_size, angle,
                                        math.exp(rng.uniform(-da, da)))) @ g_s
        return self._segment_pair(img, x0, y0, mask, full, template, (tw, th), sz)

    def _same_tilted(self, img, rect) -> Pair:
        """A ``same`` pair of a plane seen at two tilts about one axis: the template view turned by up to
        ``tilt`` degrees (half the pairs: face-on), the search view by another; so the box both shrinks and
        grows along that axis between template and search (a board turned toward the camera, or away). The
        template is cropped around the box of its own view, as the user would draw it; labels are the boxes
        around the turned rectangle in each view (rotation in the image plane included)."""
        rng = self.rng
        cx, cy, w, h = rect
        corners = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        about = int(rng.integers(2))  # 0: about the horizontal axis, 1: the vertical one
        focal = crop_side(w, h) * self.x_size / self.z_size  # about the search crop's side, in image px

        def view(t):
            angles = [rng.uniform(-0.15, 0.15) * self.tilt] * 2
            angles[about] = t
            return tilt_homography(cx, cy, *angles, focal=focal)

        g_t = view(rng.uniform(-self.tilt, self.tilt) if rng.random() < 0.5 else 0.0)
        tcx, tcy, tw, th = warped_box(g_t, corners)
        sz = crop_side(tw, th)
        full_t = _homogeneous(crop_matrix(tcx, tcy, sz, self.z_size)) @ g_t
        template = _warp_view(img, full_t, self.z_size)
        g_s = view(rng.uniform(-self.tilt, self.tilt))
        scx, scy, _, _ = warped_box(g_s, corners)
        sx = sz * self.x_size / self.z_size * math.exp(rng.uniform(-self.scale_change, self.scale_change))
        angle = rng.uniform(-12, 12) if rng.random() < 0.5 else 0.0
        da = self.shape_change or 0.1
        shift = rng.uniform(-0.28, 0.28, size=2) * sx
        m = crop_matrix(scx + shift[0], scy + shift[1], sx, self.x_size, angle, math.exp(rng.uniform(-da, da)))
        full_s = _homogeneous(m) @ g_s
        search = _photometric(_warp_view(img, full_s, self.x_size), rng)
        box = warped_box(full_s, corners)
        if rng.random() < 0.2:
            search = _occlude(search, box, rng)
        k_z = self.z_size / sz
        return Pair(_photometric(template, rng), search, box, [], "same", (tw * k_z, th * k_z))

    def _tilt_angles(self):
        """(about the horizontal axis, about the vertical axis), degrees: one axis mostly, as a board turns."""
        rng = self.rng
        t = rng.uniform(-self.tilt, self.tilt)
        u = rng.uniform(-0.25, 0.25) * self.tilt
        return (t, u) if rng.random() < 0.5 else (u, t)

    def _object(self, src, w, h):
        if self.framed_fraction and self.rng.random() < self.framed_fraction:
            return framed_patch(src, w, h, self.rng)
        return matte_patch(src, w, h, self.rng)

    @staticmethod
    def _paste(canvas, patch, alpha, cx, cy, w, h, angle=0.0, hom=None, with_box=False):
        """Paste ``patch`` resized to w×h (rotated by angle, then warped by the 3×3 ``hom`` if given) centred
        at (cx, cy); returns the canvas, and with ``with_box`` also the (cx, cy, w, h) box of the pasted matte
        (alpha ≥ 0.5): the target's exact extent, whatever the rotation and warp."""
        ph, pw = patch.shape[:2]
        m = cv2.getRotationMatrix2D(((pw - 1) / 2, (ph - 1) / 2), angle, 1.0)
        m = np.vstack([m, [0, 0, 1]])
        s = np.array([[w / pw, 0, 0], [0, h / ph, 0], [0, 0, 1]])
        c = s @ np.array([(pw - 1) / 2, (ph - 1) / 2, 1.0])
        t = np.array([[1, 0, cx - c[0]], [0, 1, cy - c[1]], [0, 0, 1]])
        full = t @ s @ m
        H, W = canvas.shape[:2]
        if hom is not None:
            full = hom @ full
            warped = cv2.warpPerspective(patch, full, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)
            a = cv2.warpPerspective(alpha, full, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)[..., None]
        else:
            warped = cv2.warpAffine(patch, full[:2], (W, H), flags=cv2.INTER_LINEAR, borderValue=0)
            a = cv2.warpAffine(alpha, full[:2], (W, H), flags=cv2.INTER_LINEAR, borderValue=0)[..., None]
        out = canvas * (1 - a) + warped * a
        if not with_box:
            return out
        ys, xs = np.nonzero(a[..., 0] >= 0.5)
        if len(xs) == 0:  # nothing visible: the placed box, as asked
            return out, (float(cx), float(cy), float(w), float(h))
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        return out, (float(x0 + x1) / 2, float(y0 + y1) / 2, float(x1 - x0), float(y1 - y0))

    def _composite(self) -> Pair:
        rng = self.rng
        src = self.photos[int(rng.integers(len(self.photos)))]
        bg_img = self.images[int(rng.integers(len(self.images)))]
        H, W = src.shape[:2]
        side = rng.uniform(0.1, 0.35) * min(H, W)
        ar = math.exp(rng.uniform(-0.8, 0.8))
        ow, oh = side * math.sqrt(ar), side / math.sqrt(ar)
        patch, alpha = self._object(src, ow, oh)
        # object size in template-crop pixels: SiamFC crop of a (tw, th) object is 127 px
        tw = rng.uniform(28, 72)
        th = tw * (oh / ow)
        th = float(np.clip(th, 16, 100))
        tw = float(np.clip(tw, 16, 100))
        k = self.z_size / crop_side(tw, th)
        tw, th = tw * k, th * k
        bcx, bcy = rng.uniform(0.3, 0.7) * bg_img.shape[1], rng.uniform(0.3, 0.7) * bg_img.shape[0]
        bside = rng.uniform(0.3, 0.8) * min(bg_img.shape[:2])
        bg_z, _ = _affine_crop(bg_img, bcx, bcy, bside * self.z_size / self.x_size, self.z_size)
        zc = (self.z_size - 1) / 2
        template, t_extent = self._paste(bg_z.astype(np.float32), patch, alpha, zc, zc, tw, th, with_box=True)
        # search: same background moved a little, the object scaled/stretched/rotated and moved
        bg_x, _ = _affine_crop(bg_img, bcx + rng.normal(0, 0.05) * bside, bcy + rng.normal(0, 0.05) * bside,
                               bside * math.exp(rng.normal(0, 0.05)), self.x_size)
        canvas = bg_x.astype(np.float32)
        s = math.exp(rng.uniform(-self.scale_change, self.scale_change))
        da = self.shape_change or 0.15
        a = math.exp(rng.uniform(-da, da))
        sw, sh = tw * s * a, th * s / a
        angle = rng.uniform(-10, 10) if rng.random() < 0.4 else 0.0
        margin = 0.3 * self.x_size
        cx, cy = rng.uniform(self.x_size / 2 - margin, self.x_size / 2 + margin, size=2)
        distractors = []
        for _ in range(int(rng.choice([0, 1, 1, 2, 3]))):
            if sw >= self.x_size or sh >= self.x_size:  # a target that fills the crop leaves no room beside it
                break
            dpatch, dalpha = self._object(src, ow * rng.uniform(0.8, 1.25), oh * rng.uniform(0.8, 1.25))
            for _try in range(10):
                dx, dy = rng.uniform(sw / 2, self.x_size - sw / 2), rng.uniform(sh / 2, self.x_size - sh / 2)
                if abs(dx - cx) > 0.8 * (sw + 1) or abs(dy - cy) > 0.8 * (sh + 1):
                    break
            else:
                continue
            dw, dh = sw * rng.uniform(0.85, 1.15), sh * rng.uniform(0.85, 1.15)
            canvas = self._paste(canvas, dpatch, dalpha, dx, dy, dw, dh)
            distractors.append((float(dx), float(dy), float(dw), float(dh)))
        hom = None
        if self.tilt and rng.random() < self.tilt_fraction:
            hom = tilt_homography(cx, cy, *self._tilt_angles(), focal=self.x_size)
        canvas, extent = self._paste(canvas, patch, alpha, cx, cy, sw, sh, angle, hom, with_box=True)
        search = _photometric(np.clip(canvas, 0, 255).astype(np.uint8), rng)
        box = (float(cx), float(cy), float(sw), float(sh))
        if self.extent_labels:  # the matte's own extent, rotation and tilt included
            box = extent
        elif hom is not None:  # the box around the turned rectangle (the in-plane angle ignored, as without tilt)
            box = warped_box(hom, (cx - sw / 2, cy - sh / 2, cx + sw / 2, cy + sh / 2))
        if rng.random() < 0.15:
            search = _occlude(search, box, rng)
        template = _photometric(np.clip(template, 0, 255).astype(np.uint8), rng)
        return Pair(template, search, box, distractors, "composite",
                    t_extent[2:] if self.extent_labels else (tw, th))

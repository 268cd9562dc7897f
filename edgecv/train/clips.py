"""Composite video clips with exact labels: real people moving over real backgrounds.

For key-frame propagation (DFF) we need clips with per-pixel labels *and* the true motion between any
two frames. Both are exact when the clip is composed of layers that each move under a known affine
transform (the FlyingChairs recipe, with real imagery):

- the background is a real photo or video frame under a slow camera motion (or none);
- people are real cut-outs from the static-camera ``vtest.avi`` (the pixels where the frame differs
  from the empty scene, the median of the frames), each walking under its own motion;
- distractors are patches of real photos under a smooth random matte, also moving, labelled
  background: the task is "find the people", not "find whatever moves".

The label of a pixel is the class of the topmost layer covering it (alpha > 0.5), and its flow from
frame t to frame k is where the same layer point lies in frame k. Only the training split is used for
training (left 70% of photos, first 70% of videos); ``split="heldout"`` draws from the rest.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .. import data


@dataclass
class Layer:
    rgb: np.ndarray       # source image, BGR uint8
    alpha: np.ndarray     # source alpha in [0, 1] (float32), same size
    label: int            # class of its pixels (0 background, 1 person)
    affines: np.ndarray   # (T, 2, 3) source → frame t
    source: int = -1      # index of the person cut-out it shows (-1: not a person)


@dataclass
class Clip:
    frames: np.ndarray    # (T, H, W, 3) BGR uint8
    labels: np.ndarray    # (T, H, W) uint8 class index
    layers: list
    owner: np.ndarray     # (T, H, W) int16 index of the topmost layer at each pixel

    def flow(self, t: int, k: int) -> np.ndarray:
        """Exact flow (H, W, 2) in pixels: for each pixel of frame ``t``, where it is in frame ``k``."""
        h, w = self.owner.shape[1:]
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
        out = np.zeros((h, w, 2), np.float32)
        for i, layer in enumerate(self.layers):
            sel = self.owner[t] == i
            if not sel.any():
                continue
            m = _compose(layer.affines[k], _invert(layer.affines[t]))
            x, y = gx[sel], gy[sel]
            out[sel, 0] = m[0, 0] * x + m[0, 1] * y + m[0, 2] - x
            out[sel, 1] = m[1, 0] * x + m[1, 1] * y + m[1, 2] - y
        return out


def _invert(a):
    return cv2.invertAffineTransform(a.astype(np.float64))


def _compose(a, b):
    """a ∘ b for 2×3 affines."""
    a3 = np.vstack([a, [0, 0, 1]])
    b3 = np.vstack([b, [0, 0, 1]])
    return (a3 @ b3)[:2]


def _similarity(cx, cy, angle_deg, scale, tx, ty):
    """Rotate/scale about (cx, cy) of the source, then put that point at (tx, ty)."""
    m = cv2.getRotationMatrix2D((float(cx), float(cy)), float(angle_deg), float(scale))
    m[:, 2] += (tx - cx, ty - cy)
    return m


def person_cutouts(split: str = "train", max_n: int = 400, seed: int = 0, thresh: int = 30, min_aspect: float = 1.3):
    """Real people cut out of ``vtest.avi``'s split: (BGR crop, alpha) pairs.

    The alpha is the foreground blob (frame vs the median empty scene) inside a detected person box,
    softened at the edge; boxes come from :func:`edgecv.train.tracklets.detect_people`.
    """
    from .tracklets import detect_people

    frames = data.video_part("vtest.avi", split, step=2)
    background = np.median(np.stack(frames[::4]), axis=0).astype(np.uint8)
    rng = np.random.default_rng(seed)
    out = []
    order = rng.permutation(len(frames))
    for i in order:
        f = frames[i]
        diff = cv2.absdiff(f, background).max(2)
        fg = (diff > thresh).astype(np.uint8)
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 9)))
        for x, y, w, h in detect_people(f, background, thresh, min_aspect).astype(int):
            x0, y0 = max(0, x - 4), max(0, y - 4)
            x1, y1 = min(f.shape[1], x + w + 4), min(f.shape[0], y + h + 4)
            m = fg[y0:y1, x0:x1]
            n, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
            if n < 2:
                continue
            big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
            m = (lab == big).astype(np.float32)
            if m.mean() < 0.25:
                continue
            alpha = cv2.GaussianBlur(m, (3, 3), 0.8)
            out.append((f[y0:y1, x0:x1].copy(), alpha))
        if len(out) >= max_n:
            break
    return out[:max_n]


def _blob_matte(h, w, rng):
    """A smooth random blob filling most of an h×w box (for distractor patches)."""
    noise = rng.random((max(3, h // 12), max(3, w // 12))).astype(np.float32)
    noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:h, 0:w]
    ell = 1 - (((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2)
    m = (ell + 0.5 * (noise - 0.5) > 0.2).astype(np.float32)
    return cv2.GaussianBlur(m, (3, 3), 0.8)


class ClipSampler:
    """Draws :class:`Clip` s of ``length`` frames at ``size`` (H, W) from one split.

    ``person_height``: range of a person's height in frame pixels (a 256×320 frame of vtest shows
    people 30–45 px tall; the range covers nearer and farther cameras).
    """

    def __init__(self, split: str = "train", seed: int = 0, person_height=(24, 110), max_people: int = 4,
                 min_aspect: float = 1.3, pair_prob: float = 0.0):
        self.rng = np.random.default_rng(seed)
        self.people = person_cutouts(split, seed=seed, min_aspect=min_aspect)
        if not self.people:
            raise data.DataError(f"no person cut-outs found in vtest.avi's {split} split")
        photos = [im for _, _, im in data.photo_parts(split)]
        vids = []
        for name in ("Megamind.avi", "tree.avi"):
            vids += data.video_part(name, split, step=6)
        vt = data.video_part("vtest.avi", split, step=4)
        empty = np.median(np.stack(vt[::4]), axis=0).astype(np.uint8)  # vtest's empty scene
        self.backgrounds = [self._shrink(b) for b in photos + vids + [empty] * 4]
        self.patches = [self._shrink(p) for p in photos]
        self.person_height, self.max_people = person_height, max_people
        # a person placed beside / half behind the previous one (crowds for the detector); 0 draws nothing extra,
        # so the clips of a given seed stay as they were
        self.pair_prob = pair_prob

    @staticmethod
    def _shrink(img, max_side=640):
        s = max_side / max(img.shape[:2])
        return cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else img

    def _motion(self, cx, cy, x0, y0, scale, length, speed, rot_speed=0.0, zoom=0.0, angle0=0.0):
        """Per-frame similarity: constant velocity (px/frame), rotation (deg/frame), zoom (1/frame),
        with a little jitter."""
        rng = self.rng
        vx, vy = rng.normal(0, speed, size=2)
        out = []
        for t in range(length):
            jx, jy = rng.normal(0, 0.15 * speed + 0.05, size=2)
            out.append(_similarity(cx, cy, angle0 + rot_speed * t, scale * (1 + zoom) ** t,
                                   x0 + vx * t + jx, y0 + vy * t + jy))
        return np.stack(out)

    def sample(self, size=(256, 320), length: int = 8, max_speed: float = 4.0) -> Clip:
        rng = self.rng
        h, w = size
        layers = []
        bg = self.backgrounds[int(rng.integers(len(self.backgrounds)))]
        bh, bw = bg.shape[:2]
        cover = max(h / bh, w / bw) * rng.uniform(1.1, 1.6)  # the frame sees part of the background
        static = rng.random() < 0.3
        layers.append(Layer(bg, np.ones(bg.shape[:2], np.float32), 0, self._motion(
            bw / 2, bh / 2, w / 2, h / 2, cover, length, 0 if static else rng.uniform(0.3, 1.0) * max_speed * 0.75,
            0 if static else rng.normal(0, 0.3), 0 if static else rng.normal(0, 0.004))))
        n_dis = int(rng.integers(0, 3))
        n_people = int(rng.integers(1, self.max_people + 1))
        kinds = ["d"] * n_dis + ["p"] * n_people
        rng.shuffle(kinds)
        last = None   # (x, y, height) of the previous person
        for kind in kinds:
            if kind == "p":
                source = int(rng.integers(len(self.people)))
                rgb, alpha = self.people[source]
                if rng.random() < 0.5:
                    rgb, alpha = rgb[:, ::-1].copy(), alpha[:, ::-1].copy()
                ph = rng.uniform(*self.person_height)
                scale = ph / rgb.shape[0]
                label, rot = 1, rng.normal(0, 0.3)
            else:
                src = self.patches[int(rng.integers(len(self.patches)))]
                ph_, pw_ = (rng.uniform(0.1, 0.35, size=2) * min(src.shape[:2])).astype(int) + 8
                y0 = int(rng.integers(0, src.shape[0] - ph_ + 1))
                x0 = int(rng.integers(0, src.shape[1] - pw_ + 1))
                rgb = src[y0:y0 + ph_, x0:x0 + pw_].copy()
                alpha = _blob_matte(ph_, pw_, rng)
                scale = rng.uniform(20, 90) / max(ph_, pw_)
                label, rot, source = 0, rng.normal(0, 1.0), -1
            sh, sw = rgb.shape[:2]
            tx, ty = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
            if kind == "p" and last is not None and self.pair_prob and rng.random() < self.pair_prob:
                lx, ly, lh = last   # beside or partly behind the previous person, about as tall
                scale = lh * rng.uniform(0.85, 1.15) / sh
                tx, ty = lx + rng.uniform(-0.5, 0.5) * 0.45 * lh, ly + rng.uniform(-0.12, 0.12) * lh
            if kind == "p":
                last = (tx, ty, scale * sh)
            speed = rng.uniform(0.2, 1.0) * max_speed
            zoom, angle0 = rng.normal(0, 0.01), rng.normal(0, 4)
            layers.append(Layer(rgb, alpha, label, self._motion(sw / 2, sh / 2, tx, ty, scale, length, speed, rot,
                                                                zoom, angle0), source))
        return render(layers, size, length, rng)


def render(layers, size, length, rng=None) -> Clip:
    h, w = size
    frames = np.zeros((length, h, w, 3), np.float32)
    labels = np.zeros((length, h, w), np.uint8)
    owner = np.zeros((length, h, w), np.int16)
    gain = rng.uniform(0.8, 1.2) if rng is not None else 1.0
    for t in range(length):
        for i, layer in enumerate(layers):
            a = layer.affines[t]
            if i == 0:
                frames[t] = cv2.warpAffine(layer.rgb, a, (w, h), flags=cv2.INTER_LINEAR,
                                           borderMode=cv2.BORDER_REFLECT).astype(np.float32)
                continue
            rgb = cv2.warpAffine(layer.rgb, a, (w, h), flags=cv2.INTER_LINEAR).astype(np.float32)
            al = cv2.warpAffine(layer.alpha, a, (w, h), flags=cv2.INTER_LINEAR)
            frames[t] = frames[t] * (1 - al[..., None]) + rgb * al[..., None]
            top = al > 0.5
            owner[t][top] = i
            labels[t][top] = layer.label
        if rng is not None:
            frames[t] += rng.normal(0, 2.0, frames[t].shape)
    frames = np.clip(frames * gain, 0, 255).astype(np.uint8)
    return Clip(frames, labels, list(layers), owner)


def flow_to_feature_grid(flow: np.ndarray, stride: int = 8) -> np.ndarray:
    """Pixel flow (H, W, 2) → (2, H/stride, W/stride) in feature pixels (mean over each cell)."""
    h, w = flow.shape[:2]
    small = cv2.resize(flow, (w // stride, h // stride), interpolation=cv2.INTER_AREA)
    return (small / stride).transpose(2, 0, 1).astype(np.float32)


def write_clip_dataset(out_dir, n: int = 12, length: int = 30, size=(256, 320), seed: int = 7,
                       split: str = "heldout") -> list:
    """Write ``n`` labelled clips as ``DIR/clipNN/img/000000.png`` + ``DIR/clipNN/masks/000000.png``
    (class index per pixel) + ``source.json``; built in a temp folder and renamed into place."""
    import json
    import os
    import shutil
    import tempfile
    from pathlib import Path

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        sampler = ClipSampler(split, seed=seed)
        names = []
        for i in range(n):
            clip = sampler.sample(size, length, max_speed=3.0)
            d = tmp / f"clip{i:02d}"
            (d / "img").mkdir(parents=True)
            (d / "masks").mkdir()
            for t in range(length):
                cv2.imwrite(str(d / "img" / f"{t:06d}.png"), clip.frames[t])
                cv2.imwrite(str(d / "masks" / f"{t:06d}.png"), clip.labels[t])
            names.append(d.name)
        (tmp / "source.json").write_text(json.dumps({
            "what": "composite clips: real people (vtest.avi cut-outs) and real photo patches moving over real "
                    "backgrounds; labels exact (0 background, 1 person)", "split": split, "seed": seed,
            "clips": n, "length": length, "size": list(size),
            "recipe": f"edgecv.train.clips.write_clip_dataset(DIR, n={n}, length={length}, seed={seed})"}, indent=2))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return names

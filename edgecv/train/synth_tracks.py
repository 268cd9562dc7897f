"""Synthetic tracking sequences with exact boxes, built from the training split only.

The mined pedestrian tracklets (:mod:`edgecv.train.tracklets`) are the only real training-split
sequences with boxes, and pedestrians barely change size or shape over 100 frames. Parameters tuned
on them alone say nothing about how a tracker should follow a rigid object the camera closes in on
or backs away from. These sequences fill that gap without touching the dev set: an object (a patch of
a training photo under a soft matte, as the composite training pairs) moves over a training
background that the "camera" pans and zooms across, while the object's scale (up to ×2 either way),
aspect ratio, rotation and brightness drift smoothly, with same-kind distractors (other patches of
the same photo) moving beside it. The box is the object's placed extent, so it is exact (for a
rotated object, the bounding box of its rotated rectangle).
"""
from __future__ import annotations

import functools
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .. import data
from .pairs import PairSampler, matte_patch, tilt_homography


@dataclass
class SynthTrack:
    name: str
    frames: list          # BGR uint8 frames
    boxes: np.ndarray     # (N, 4) x, y, w, h per frame, exact


def _smooth_walk(rng, n, amp, knots=4):
    """A smooth random curve of ``n`` values in about [-amp, amp] (cubic through random knots)."""
    k = np.linspace(0, n - 1, knots + 1)
    v = rng.uniform(-amp, amp, size=knots + 1)
    v[0] = 0.0
    t = np.arange(n)
    return np.interp(t, k, v) if n < 4 else cv2.resize(v[None].astype(np.float32), (n, 1),
                                                       interpolation=cv2.INTER_CUBIC)[0].astype(np.float64)


def synth_tracks(n: int = 8, length: int = 100, seed: int = 0, size=(480, 360), split: str = "train",
                 tilt: float = 0.0, opening: bool = False, occlusion: bool = False):
    """``n`` synthetic sequences of ``length`` frames (``size`` = width, height), reproducible by ``seed``.
    ``tilt`` > 0: the object also turns out of the image plane, about one axis, by a smooth walk of up to
    ``tilt`` degrees either way (a board or a face turning: the box's aspect changes by up to ×2 or more); its box
    is then the extent of the warped matte. 0 gives the same sequences as before the option existed.
    ``opening`` (with ``tilt``): the object starts small and turned edge-on (a thin strip, ``tilt``° out of
    plane) and over the sequence turns to face the camera while it grows ×2.5, the way a board lifted towards
    the camera or a figure that stands up does. The tracker's first box is then the least informative one,
    the hard case for a head that copies the template's shape.
    ``occlusion``: an opaque block (a piece of another background, a passing van) slides across the object and
    hides it completely for 12-24 frames in the middle of the sequence, while a *lure* (another patch of the
    object's photo, the same kind of thing) stands 1.5-2.5 object sizes away; the box stays the object's own,
    hidden or not. The case a re-detection that takes the first target-like thing gets wrong."""
    rng = np.random.default_rng(seed)
    photos, backgrounds = _material(split)
    W, H = size
    out = []
    for k in range(n):
        i = int(rng.integers(len(photos)))
        src = photos[i]
        j = i
        while j == i:  # an object on its own photo would be camouflage, not a track
            j = int(rng.integers(len(backgrounds)))
        bg = backgrounds[j]
        side0 = rng.uniform(45, 110)
        ar0 = math.exp(rng.uniform(-0.8, 0.8))
        for _ in range(20):  # a textured patch: a flat one (sky, a wall) has nothing to track
            patch, alpha = matte_patch(src, side0 * math.sqrt(ar0) * 1.5, side0 / math.sqrt(ar0) * 1.5, rng)
            if patch.std() > 30:
                break
        log_s = _smooth_walk(rng, length, math.log(2.0))       # object scale
        log_a = _smooth_walk(rng, length, 0.15)                # aspect drift
        ang = _smooth_walk(rng, length, 10.0) if rng.random() < 0.5 else np.zeros(length)
        cam_z = _smooth_walk(rng, length, 0.25)                # camera zoom on the background
        cam = np.cumsum(rng.normal(0, 1.5, size=(length, 2)), 0)
        # object path: momentum walk, reflected at the borders
        pos = np.array([rng.uniform(0.35, 0.65) * W, rng.uniform(0.35, 0.65) * H])
        vel = rng.normal(0, 2.5, size=2)
        n_distr = int(rng.choice([0, 1, 1, 2]))
        distr = []
        for _ in range(n_distr):
            dp, da = matte_patch(src, side0 * math.sqrt(ar0) * rng.uniform(1.2, 1.8),
                                 side0 / math.sqrt(ar0) * rng.uniform(1.2, 1.8), rng)
            distr.append({"patch": dp, "alpha": da, "pos": np.array([rng.uniform(0.1, 0.9) * W,
                                                                     rng.uniform(0.1, 0.9) * H]),
                          "vel": rng.normal(0, 2.0, size=2), "s": rng.uniform(0.85, 1.15)})
        gain = 1.0 + _smooth_walk(rng, length, 0.2)
        if tilt:  # drawn after everything else, so tilt=0 keeps the seed's sequences as they were
            turn = np.clip(rng.uniform(-tilt, tilt) + _smooth_walk(rng, length, tilt), -tilt, tilt)  # may start turned
            about = int(rng.integers(2))
            if opening:  # drawn after the tilt's own numbers: opening=False keeps the tilted sequences as they were
                ramp = np.clip(np.arange(length) / max(0.7 * (length - 1), 1.0), 0.0, 1.0)
                ramp = ramp * ramp * (3 - 2 * ramp)  # smoothstep: from edge-on to facing in the first 70%
                turn = rng.choice([-1.0, 1.0]) * tilt * (1.0 - ramp) + 0.1 * _smooth_walk(rng, length, tilt)
                log_s = math.log(0.6) + ramp * math.log(2.5) + 0.1 * log_s
        # its own generator: occlusion=True draws the same objects and paths as occlusion=False, then hides them
        occ = (_occlusion_plan(np.random.default_rng([seed, k, 3]), length, backgrounds, i, j, src, side0, ar0)
               if occlusion else None)
        bh, bw = bg.shape[:2]
        bside = min(bh, bw) * 0.8
        frames, boxes = [], []
        for t in range(length):
            s = math.exp(log_s[t])
            a = math.exp(log_a[t])
            w, h = side0 * math.sqrt(ar0) * s * a, side0 / math.sqrt(ar0) * s / a
            # keep the object inside the frame: reflect the velocity at a margin of half its size
            vel = 0.9 * vel + rng.normal(0, 0.8, size=2)
            vel = np.clip(vel, -7, 7)
            pos = pos + vel
            for d, lim, half in ((0, W, w / 2), (1, H, h / 2)):
                if pos[d] < half or pos[d] > lim - half:
                    vel[d] = -vel[d]
                    pos[d] = float(np.clip(pos[d], half, lim - half))
            cx = bw / 2 + float(np.clip(cam[t, 0], -0.2 * bw, 0.2 * bw))
            cy = bh / 2 + float(np.clip(cam[t, 1], -0.2 * bh, 0.2 * bh))
            z = bside * math.exp(cam_z[t])
            frame, _ = _bg_view(bg, cx, cy, z, W, H)
            canvas = frame.astype(np.float32)
            for dd in distr:
                dd["vel"] = np.clip(0.9 * dd["vel"] + rng.normal(0, 0.8, size=2), -6, 6)
                dd["pos"] = np.clip(dd["pos"] + dd["vel"], [0, 0], [W, H])
                canvas = PairSampler._paste(canvas, dd["patch"], dd["alpha"], dd["pos"][0], dd["pos"][1],
                                            w * dd["s"], h * dd["s"])
            if tilt:
                angles = [0.0, 0.0]
                angles[about] = float(turn[t])
                hom = tilt_homography(pos[0], pos[1], *angles, focal=2.0 * max(w, h))
                canvas, (bcx, bcy, bw_, bh_) = PairSampler._paste(canvas, patch, alpha, pos[0], pos[1], w, h,
                                                                  float(ang[t]), hom, with_box=True)
            else:
                canvas = PairSampler._paste(canvas, patch, alpha, pos[0], pos[1], w, h, float(ang[t]))
                r = math.radians(ang[t])
                bcx, bcy = pos
                bw_, bh_ = abs(w * math.cos(r)) + abs(h * math.sin(r)), abs(w * math.sin(r)) + abs(h * math.cos(r))
            if occ is not None:
                canvas = _occlude(canvas, occ, t, pos, w, h)
            canvas = np.clip(canvas * gain[t], 0, 255).astype(np.uint8)
            frames.append(canvas)
            x0, y0 = max(0.0, bcx - bw_ / 2), max(0.0, bcy - bh_ / 2)
            x1, y1 = min(float(W), bcx + bw_ / 2), min(float(H), bcy + bh_ / 2)
            boxes.append((x0, y0, x1 - x0, y1 - y0))
        out.append(SynthTrack(f"synth{k:02d}", frames, np.asarray(boxes, np.float64)))
    return out


def _occlusion_plan(rng, length, backgrounds, i, j, src, side0, ar0):
    """The occluder and the lure of one ``occlusion`` sequence (drawn after all its other numbers)."""
    k = j
    while k in (i, j):  # the block is a piece of a third image: neither the object's photo nor the background
        k = int(rng.integers(len(backgrounds)))
    full = int(rng.integers(12, 25))                       # frames the object is hidden completely
    start = int(rng.integers(int(0.3 * length), int(0.5 * length)))
    lure, lure_alpha = matte_patch(src, side0 * math.sqrt(ar0) * 1.5, side0 / math.sqrt(ar0) * 1.5, rng)
    return {"block": backgrounds[k], "full": full, "start": start, "side": int(rng.choice([-1, 1])),
            "lure": lure, "lure_alpha": lure_alpha, "lure_s": float(rng.uniform(0.8, 1.2)),
            "lure_at": float(rng.uniform(0, 2 * math.pi)), "lure_r": float(rng.uniform(1.5, 2.5)),
            "lure_from": max(0, start - int(rng.integers(5, 20))), "anchor": None}


def _occlude(canvas, occ, t, pos, w, h):
    """Frame ``t`` of ``occ``: the lure (from ``lure_from`` on, fixed where the object was then) and the block,
    which slides across the object (at ``pos``, ``w`` × ``h``) and covers it wholly for ``full`` frames."""
    H, W = canvas.shape[:2]
    if t >= occ["lure_from"]:
        if occ["anchor"] is None:
            r = occ["lure_r"] * max(w, h)
            occ["anchor"] = (float(np.clip(pos[0] + r * math.cos(occ["lure_at"]), 0, W)),
                             float(np.clip(pos[1] + r * math.sin(occ["lure_at"]), 0, H)), w, h)
        ax, ay, aw, ah = occ["anchor"]
        canvas = PairSampler._paste(canvas, occ["lure"], occ["lure_alpha"], ax, ay, aw * occ["lure_s"],
                                    ah * occ["lure_s"])
    wb, hb = 2.5 * w, 1.3 * h + 16          # the block moves with the object plus a slide across it
    travel = (wb - w) / occ["full"]         # px per frame: covered wholly while |offset| <= (wb - w) / 2
    offset = occ["side"] * ((wb + w) / 2 - travel * (t - occ["start"] + w / travel))
    if abs(offset) >= (wb + w) / 2:
        return canvas
    x0, y0 = int(round(pos[0] + offset - wb / 2)), int(round(pos[1] - hb / 2))
    x1, y1 = int(round(pos[0] + offset + wb / 2)), int(round(pos[1] + hb / 2))
    block = cv2.resize(occ["block"], (max(x1 - x0, 1), max(y1 - y0, 1)), interpolation=cv2.INTER_AREA)
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if cx1 > cx0 and cy1 > cy0:
        canvas = canvas.copy()
        canvas[cy0:cy1, cx0:cx1] = block[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
    return canvas


def cover_box(frame, box, cover, margin: float = 0.25):
    """A copy of ``frame`` with the box ``x, y, w, h`` (grown by ``margin`` of its size each side, clipped to the
    frame) replaced by ``cover`` squeezed to fit: a full occlusion whose truth is still ``box``."""
    x, y, w, h = box
    x0, y0 = int(max(0, x - margin * w)), int(max(0, y - margin * h))
    x1, y1 = int(min(frame.shape[1], x + w * (1 + margin))), int(min(frame.shape[0], y + h * (1 + margin)))
    out = frame.copy()
    out[y0:y1, x0:x1] = cv2.resize(cover, (max(x1 - x0, 1), max(y1 - y0, 1)), interpolation=cv2.INTER_AREA)
    return out


@functools.lru_cache(maxsize=2)
def _material(split: str):
    """(object photos, backgrounds) of one split, decoded once per process."""
    photos = [PairSampler._shrink(im, 640) for _, _, im in data.photo_parts(split)]
    backgrounds = list(photos)
    for name in data.SCENE_VIDEOS:
        backgrounds += [PairSampler._shrink(f, 640) for f in data.video_part(name, split, step=25)]
    return photos, backgrounds


def _bg_view(bg, cx, cy, side, W, H):
    """A W×H view of ``bg`` centred at (cx, cy), ``side`` background pixels across its height."""
    k = H / side
    m = np.array([[k, 0, W / 2 - k * cx], [0, k, H / 2 - k * cy]], np.float64)
    return cv2.warpAffine(bg, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT), m


def write_otb(tracks, root, quality: int = 95, source: str = "") -> list:
    """Write tracks as OTB sequences (``root/NAME/img/0001.jpg…``, ``groundtruth_rect.txt``); returns the
    folders. Each sequence is written under a temporary name and renamed, so a half-written one never
    looks like a sequence (:func:`edgecv.runtime.track.list_sequences` skips names starting with ``_``)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for t in tracks:
        final, tmp = root / t.name, root / f"_{t.name}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "img").mkdir(parents=True)
        for i, f in enumerate(t.frames):
            if not cv2.imwrite(str(tmp / "img" / f"{i + 1:04d}.jpg"), f, [cv2.IMWRITE_JPEG_QUALITY, quality]):
                raise OSError(f"cannot write frame {i} of {t.name} under {tmp}")
        np.savetxt(tmp / "groundtruth_rect.txt", t.boxes, fmt="%.3f", delimiter=",")
        (tmp / "source.txt").write_text(source + "\n")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        out.append(final)
    return out

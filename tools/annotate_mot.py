#!/usr/bin/env python
"""Semi-automatic multi-object ground truth for the MOT dev set (``datasets/mot-dev``).

Each sequence lives in ``datasets/mot-dev/SEQ/`` with

* ``source.json`` -- ``{"video": "vtest.avi", "start": 720, "end": 794, "note": "...", "ids": {...}}``:
  ``start`` / ``end`` are 0-based frame indices as ``cv2.VideoCapture`` reads the video sequentially (``end``
  inclusive); ``ids`` maps each track id to ``{"who": "...", "snap": {...}, "hidden": [[a, b], ...],
  "from": "otb-dev/vtest_woman"}``: ``snap`` is the mask-snap setting of ``tools/annotate_dev.py`` (margins
  and the ``skip`` ranges where the foreground blob is not trusted), ``hidden`` are frame ranges where the
  person is less than about a third visible (no box: MOTChallenge lists visible objects), ``from`` names a
  single-object sequence whose key frames were copied (same key frames + same snap = the same boxes);
* ``keyframes/ID.txt`` -- hand-placed boxes ``frame,x,y,w,h`` of one person (absolute frame index, as in
  otb-dev's ``keyframes.txt``). The person has a box on every frame from the first to the last key frame
  (within ``start..end``), except the ``hidden`` ranges. Key frames may lie outside ``start..end`` (a track
  copied from otb-dev keeps its whole key-frame list), but never before the held-out start.

``python tools/annotate_mot.py [SEQ ...]`` regenerates ``SEQ/gt/gt.txt`` and ``SEQ/seqinfo.ini``: per id,
the key frames go through annotate_dev.py's pipeline (linear interpolation, template-matching refinement,
static-camera foreground snap outside the ``skip`` ranges, clipping to the image), then the boxes become
MOTChallenge rows ``frame,id,x,y,w,h,1,1,vis`` with frames 1-based from ``start``, consider flag 1, class 1
(pedestrian) and a visibility computed from the boxes: 1 minus the fraction of the box covered by the boxes
of people nearer the camera (lower bottom edge), as in MOT16/17's convention (rounded to 0.01).

Checking by eye (images go to ``/tmp/mot-dev-sheets/``, never into the dataset):

* ``--sheet`` contact sheets: every ``--every``-th frame, the whole frame at half size with every id drawn
  in its own stable colour and labelled, plus foreground blobs that no box covers in white (a person
  missed); ``--crop Y0 Y1`` limits the rows shown;
* ``--show F [F ...]`` full-resolution views (``--scale``) of frames with all ids and a labelled grid;
* ``--missed`` lists frames where a large foreground blob lies outside every box (candidates for a
  missing person; the static clutter the median background keeps also shows up here);
* ``--check`` regenerates without writing and compares with the stored ``gt.txt``.

Frames before the held-out start of a training video (vtest.avi: 556 of 795) are refused.
"""
from __future__ import annotations

import argparse
import configparser
import io
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
import annotate_dev as ad  # noqa: E402

from edgecv.data import SCENE_VIDEOS, ensure_samples, samples_dir  # noqa: E402

MOT = ROOT / "datasets" / "mot-dev"
SHEETS = Path("/tmp/mot-dev-sheets")
FRAME_RATE = 10   # vtest.avi's header says 10 fps


# ----------------------------------------------------------------------------------------- i/o
def seq_names() -> list[str]:
    return sorted(p.name for p in MOT.iterdir() if (p / "source.json").is_file())


def load_source(seq: str) -> dict:
    return json.loads((MOT / seq / "source.json").read_text())


def video_path(src: dict) -> Path:
    ensure_samples(verbose=False)
    return samples_dir() / src["video"]


def in_ranges(f: int, ranges) -> bool:
    return any(a <= f <= b for a, b in ranges)


# ---------------------------------------------------------------------------------- generation
def generate(seq: str, verbose=True):
    """``{id: {frame: box}}`` (absolute frames within start..end) and the frames read (dict frame -> image)."""
    src = load_source(seq)
    video = video_path(src)
    start, end = src["start"], src["end"]
    keys = {int(i): ad.read_keyframes(MOT / seq / "keyframes" / f"{i}.txt") for i in src["ids"]}
    lo = min([start] + [min(k) for k in keys.values()])
    hi = max([end] + [max(k) for k in keys.values()])
    cut = ad.heldout_start(video) if Path(src["video"]).name in SCENE_VIDEOS else 0
    if lo < cut:
        raise SystemExit(f"{seq}: uses frame {lo} but {src['video']}'s held-out part starts at {cut} "
                         "(frames before it are training data)")
    frames = ad.read_range(video, lo, hi)
    shape = frames[0].shape
    tracks = {}
    for i, spec in sorted(src["ids"].items(), key=lambda kv: int(kv[0])):
        i = int(i)
        k = keys[i]
        k0, k1 = min(k), max(k)
        fr = frames[k0 - lo:k1 - lo + 1]
        if verbose:
            print(f" id {i} ({spec.get('who', '')}): key frames {k0}..{k1} ({len(k)})")
        if len(k) == 1:
            boxes = np.array([k[k0]])
        else:
            boxes, _, _ = ad.refine(fr, k, k0, k1, verbose=verbose)
        if spec.get("snap"):
            boxes, used = ad.mask_refine(fr, boxes, k0, spec["snap"], video)
            if verbose:
                print(f"  foreground snap on {used.sum()} of {len(boxes)} frames")
        boxes = np.array([ad.clip_box(b, shape) for b in boxes])
        ib = ad.integer_boxes(boxes)
        hidden = spec.get("hidden", [])
        tracks[i] = {f: ib[f - k0] for f in range(max(k0, start), min(k1, end) + 1) if not in_ranges(f, hidden)}
    return src, tracks, {f: frames[f - lo] for f in range(start, end + 1)}


def visibility(tracks: dict, f: int, i: int) -> float:
    """1 - fraction of id i's box covered by the boxes of people nearer the camera (lower bottom edge)."""
    x, y, w, h = tracks[i][f]
    cover = np.zeros((h, w), bool)
    for j, t in tracks.items():
        if j == i or f not in t:
            continue
        X, Y, W, H = t[f]
        if Y + H <= y + h:   # farther from the camera (or level): behind
            continue
        x0, y0, x1, y1 = max(x, X), max(y, Y), min(x + w, X + W), min(y + h, Y + H)
        if x1 > x0 and y1 > y0:
            cover[y0 - y:y1 - y, x0 - x:x1 - x] = True
    return round(1.0 - cover.mean(), 2)


def gt_text(src: dict, tracks: dict) -> str:
    rows = []
    for f in range(src["start"], src["end"] + 1):
        for i in sorted(tracks):
            if f in tracks[i]:
                x, y, w, h = tracks[i][f]
                rows.append(f"{f - src['start'] + 1},{i},{x},{y},{w},{h},1,1,{visibility(tracks, f, i):g}\n")
    return "".join(rows)


def seqinfo_text(seq: str, src: dict, shape) -> str:
    cp = configparser.ConfigParser()
    cp.optionxform = str
    cp["Sequence"] = {"name": seq, "imDir": "img1", "frameRate": str(FRAME_RATE),
                      "seqLength": str(src["end"] - src["start"] + 1), "imWidth": str(shape[1]),
                      "imHeight": str(shape[0]), "imExt": ".jpg"}
    buf = io.StringIO()
    cp.write(buf)
    return buf.getvalue().rstrip() + "\n"


# ------------------------------------------------------------------------------------ checking
PALETTE = [(0, 0, 255), (255, 255, 0), (0, 255, 0), (255, 0, 255), (0, 165, 255), (255, 0, 0),
           (0, 255, 255), (128, 0, 255), (0, 128, 0), (255, 128, 128), (0, 80, 160), (160, 160, 0),
           (255, 128, 0), (80, 0, 128)]


def colour(i: int):
    """A stable colour per id (BGR), distinct for the first 14 ids."""
    return PALETTE[(i - 1) % len(PALETTE)]


def uncovered_blobs(img, bg, boxes, min_area=250, frac=0.6):
    """Foreground blobs (area >= min_area) of which more than ``frac`` lies outside every box."""
    m = ad.fg_mask(img, bg)
    inside = np.zeros_like(m)
    for x, y, w, h in boxes:
        inside[y:y + h, x:x + w] = 1
    n, lab, st, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    out = []
    for k in range(1, n):
        if st[k, 4] < min_area:
            continue
        sel = lab == k
        if (inside[sel] == 0).mean() > frac:
            out.append(tuple(int(v) for v in st[k, :4]))
    return out


def draw_frame(img, tracks, f, bg=None, label=True):
    im = img.copy()
    if bg is not None:
        for x, y, w, h in uncovered_blobs(img, bg, [t[f] for t in tracks.values() if f in t]):
            cv2.rectangle(im, (x, y), (x + w, y + h), (255, 255, 255), 1)
    for i, t in tracks.items():
        if f in t:
            x, y, w, h = (int(v) for v in t[f])
            cv2.rectangle(im, (x, y), (x + w - 1, y + h - 1), colour(i), 2 if label else 1)
            if label:
                cv2.putText(im, str(i), (x + 1, y + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3)
                cv2.putText(im, str(i), (x + 1, y + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour(i), 1)
    return im


def sheet(seq, src, tracks, frames, bg, every=4, crop=None, cols=3, rows=3, scale=0.5):
    sel = list(range(src["start"], src["end"] + 1, every))
    if sel[-1] != src["end"]:
        sel.append(src["end"])
    y0, y1 = crop or (0, frames[src["start"]].shape[0])
    cells = []
    for f in sel:
        im = draw_frame(frames[f], tracks, f, bg)[y0:y1]
        im = cv2.resize(im, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        cv2.putText(im, str(f), (4, im.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3)
        cv2.putText(im, str(f), (4, im.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
        cells.append(im)
    return ad.write_sheets(cells, seq, SHEETS, cols, rows)


def show(seq, tracks, frames, sel, bg, scale=1.0, crop=None):
    SHEETS.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in sel:
        im = draw_frame(frames[f], tracks, f, bg, label=True)
        H, W = im.shape[:2]
        x0, y0, x1, y1 = crop or (0, 0, W, H)
        im = cv2.resize(im[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        ad.draw_grid(im, x0, y0, x1, y1, scale, 10 if scale >= 2 else 25, font=0.33, x_label=(1, 16), y_label=(8, 4))
        cv2.putText(im, f"{seq} {f}", (4, im.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 255), 2)
        p = SHEETS / f"{seq}_f{f}.png"
        cv2.imwrite(str(p), im)
        paths.append(p)
    return paths


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("seqs", nargs="*", help="sequence folders under datasets/mot-dev (default: all)")
    ap.add_argument("--sheet", action="store_true", help="contact sheets to /tmp/mot-dev-sheets")
    ap.add_argument("--every", type=int, default=4, help="contact sheet frame step")
    ap.add_argument("--crop", type=int, nargs=2, metavar=("Y0", "Y1"), help="rows shown on the sheets")
    ap.add_argument("--sheet-scale", type=float, default=0.5, help="frame scale on the sheets")
    ap.add_argument("--cols", type=int, default=3, help="sheet columns (rows: 3)")
    ap.add_argument("--show", type=int, nargs="+", metavar="F", help="full views of these frames")
    ap.add_argument("--view", type=int, nargs=4, metavar=("X0", "Y0", "X1", "Y1"), help="region for --show")
    ap.add_argument("--scale", type=float, default=1.0, help="zoom for --show")
    ap.add_argument("--missed", action="store_true", help="list large foreground blobs outside every box")
    ap.add_argument("--check", action="store_true", help="compare with the stored gt.txt (no writing)")
    ap.add_argument("--no-write", action="store_true", help="do not rewrite gt.txt / seqinfo.ini")
    args = ap.parse_args(argv)
    problems = []
    for seq in args.seqs or seq_names():
        print(f"{seq}:")
        src, tracks, frames = generate(seq, verbose=not args.check)
        text = gt_text(src, tracks)
        info = seqinfo_text(seq, src, frames[src["start"]].shape)
        n = sum(len(t) for t in tracks.values())
        print(f"  {len(tracks)} ids, {n} boxes over {src['end'] - src['start'] + 1} frames")
        gt_path, ini_path = MOT / seq / "gt" / "gt.txt", MOT / seq / "seqinfo.ini"
        if args.check:
            for p, t in ((gt_path, text), (ini_path, info)):
                if not p.is_file() or p.read_text() != t:
                    problems.append(f"{seq}: {p.relative_to(ROOT)} differs from the regenerated one")
            print("  check: " + ("; ".join(problems) if problems else "ok"))
        elif not args.no_write:
            gt_path.parent.mkdir(parents=True, exist_ok=True)
            gt_path.write_text(text)
            ini_path.write_text(info)
            print(f"  wrote {gt_path.relative_to(ROOT)}, {ini_path.relative_to(ROOT)}")
        bg = ad.background(video_path(src)) if (args.sheet or args.show or args.missed) else None
        if args.missed:
            for f in range(src["start"], src["end"] + 1):
                bl = uncovered_blobs(frames[f], bg, [t[f] for t in tracks.values() if f in t])
                if bl:
                    print(f"  {f}: uncovered foreground {bl}")
        if args.sheet:
            for p in sheet(seq, src, tracks, frames, bg, every=args.every, crop=args.crop,
                             cols=args.cols, scale=args.sheet_scale):
                print(f"  sheet {p}")
        if args.show:
            for p in show(seq, tracks, frames, args.show, bg, scale=args.scale, crop=args.view):
                print(f"  view  {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""Choose a Siamese tracker's search parameters on *training* video, never on the dev set.

The tuning sequences are the pedestrian tracklets mined from the training split of ``vtest.avi``
(first 70%; :mod:`edgecv.train.tracklets`: background subtraction + Hungarian linking). Their boxes
are as good as the segmentation, which is enough to rank parameter settings; the dev set
(``datasets/otb-dev``, hand-checked boxes on held-out frames) stays for reporting. Pedestrians barely
change size, so ``--synth N`` adds N synthetic sequences (:mod:`edgecv.train.synth_tracks`: a patch of a
training photo moving over training backgrounds, its scale changing up to ×2 either way, exact boxes);
the table then ranks by the pooled AUC over both and gives each part's own. ``--synth-occlusion`` and
``--occlude-tracklets`` add the lost state's material: synthetic objects hidden beside a lure of their kind, and
the tracklets again with a block over the pedestrian (its neighbours in view). A grid over the
parameters named on the command line is run and ranked by pooled success AUC; the table and the
best setting are printed and written to ``--out`` as JSON.

    python bench/tune_track.py --tracker spm --grid window_influence=0.2,0.35,0.5 size_penalty=0.05,0.1,0.2
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

from edgecv.eval import track_metrics as metrics
from edgecv.eval.track import run_sequence
from edgecv.runtime.track.factory import siamese_tracker
from edgecv.runtime.track.registry import default_params, tracker_names


class TuningSequence:
    """A tuning sequence in the interface ``run_sequence`` takes (frames in memory); ``part`` names the
    set it belongs to (``tracklets`` or ``synthetic``), which the table scores separately too."""

    def __init__(self, name, frames, boxes, part="tracklets",
                 source="vtest.avi (training split, mined tracklet)"):
        self.name, self.part, self.source = name, part, source
        self._frames, self.groundtruth = frames, np.asarray(boxes, np.float64)

    def frames(self):
        return iter(self._frames)

    def __len__(self):
        return len(self._frames)


def tuning_sequences(n: int = 12, min_len: int = 40, max_len: int = 120) -> list[TuningSequence]:
    """The ``n`` longest training-split tracklets, cut to ``max_len`` frames."""
    from edgecv.train.tracklets import mine

    frames, _, tracklets = mine("vtest.avi", "train", min_len=min_len)
    tracklets = sorted(tracklets, key=lambda t: -len(t.frames))[:n]
    return [TuningSequence(f"tracklet{k:02d}@{t.frames[0]}", [frames[i] for i in t.frames[:max_len]],
                           t.boxes[:max_len]) for k, t in enumerate(tracklets)]


def occluded_tracklets(seqs: list[TuningSequence], start: int = 30, hidden: int = 18,
                       margin: float = 0.25) -> list[TuningSequence]:
    """The tracklets again, each with a block (a training-split photo, squeezed) over the pedestrian's box plus
    ``margin`` in frames ``start`` to ``start + hidden - 1``: a real person, real neighbours who look alike, and a
    full occlusion whose truth is the tracklet's own boxes (part ``occluded-real``). Tracklets too short to
    show the person again for 20 frames afterwards are left out."""
    from edgecv import data
    from edgecv.train.synth_tracks import cover_box

    photos = [im for _, _, im in data.photo_parts("train")]
    out = []
    for k, s in enumerate(seqs):
        if len(s) < start + hidden + 20:
            continue
        cover = photos[k % len(photos)]
        frames = [cover_box(f, s.groundtruth[t], cover, margin) if start <= t < start + hidden else f
                  for t, f in enumerate(s.frames())]
        out.append(TuningSequence(f"occluded-{s.name}", frames, s.groundtruth, "occluded-real",
                                  f"{s.source}, hidden by a block in frames {start}-{start + hidden - 1}"))
    return out


def crossing_tracklets(seqs: list[TuningSequence], start: int = 25, span: int = 24) -> list[TuningSequence]:
    """The tracklets again, each crossed by another tracklet's pedestrian: that person (their box cut from their own
    frames, frame by frame, so they walk and turn as filmed, scaled to the target's height, an elliptical matte)
    passes in front of the target from 1.5 widths on one side to 1.5 on the other over ``span`` frames. A look-alike
    that hides part of the target and walks on (part ``crossing-real``): the score alone may follow either, the
    target's own look has to choose. The truth is the tracklet's boxes. Tracklets shorter than the crossing plus 20
    frames are left out."""
    import cv2

    out = []
    for k, s in enumerate(seqs):
        other = seqs[(k + 1 + len(seqs) // 2) % len(seqs)]
        if len(s) < start + span + 20:
            continue
        frames, side = list(s.frames()), 1 if k % 2 else -1
        src = list(other.frames())
        for t in range(start, start + span):
            x, y, w, h = s.groundtruth[t]
            ox, oy, ow, oh = other.groundtruth[min(t - start, len(other) - 1)]
            f = src[min(t - start, len(src) - 1)]
            patch = f[int(max(oy, 0)):int(oy + oh), int(max(ox, 0)):int(ox + ow)]
            if patch.size == 0:
                continue
            ph, pw = int(round(h)), max(int(round(ow * h / max(oh, 1))), 4)
            patch = cv2.resize(patch, (pw, ph), interpolation=cv2.INTER_AREA).astype(np.float32)
            cx = x + w / 2 + side * (1.5 - 3.0 * (t - start) / (span - 1)) * max(w, pw)
            x0, y0 = int(round(cx - pw / 2)), int(round(y))
            fr = frames[t].copy()
            H, W = fr.shape[:2]
            a0, b0, a1, b1 = max(x0, 0), max(y0, 0), min(x0 + pw, W), min(y0 + ph, H)
            if a1 <= a0 or b1 <= b0:
                continue
            yy, xx = np.mgrid[:ph, :pw]
            matte = (((xx + 0.5 - pw / 2) / (pw / 2)) ** 2 + ((yy + 0.5 - ph / 2) / (ph / 2)) ** 2 <= 1.0)
            m = matte[b0 - y0:b1 - y0, a0 - x0:a1 - x0, None].astype(np.float32)
            region = fr[b0:b1, a0:a1].astype(np.float32)
            fr[b0:b1, a0:a1] = (m * patch[b0 - y0:b1 - y0, a0 - x0:a1 - x0] + (1 - m) * region).astype(fr.dtype)
            frames[t] = fr
        out.append(TuningSequence(f"crossing-{s.name}", frames, s.groundtruth, "crossing-real",
                                  f"{s.source}, crossed by {other.name} in frames {start}-{start + span - 1}"))
    return out


def shifted_starts(seqs: list[TuningSequence]) -> list[TuningSequence]:
    """The sequences again, each started from its first box shifted by 10% of the target's width or height (OTB
    SRE's four shifts in turn, ``eval/track.py``), scored against the true boxes (part ``shifted``): how well the
    tracker finds the whole target from an imprecise box, as a user draws one."""
    from edgecv.eval.track import perturbed_box

    out = []
    for k, s in enumerate(seqs):
        t = TuningSequence(f"{s.name}.init{1 + k % 4}", s._frames, s.groundtruth, part="shifted",
                           source=f"{s.source}; started from a box shifted by 10%")
        t.init_box = perturbed_box(s.groundtruth[0], 1 + k % 4)
        out.append(t)
    return out


def _parse_grid(items: list[str]) -> dict[str, list]:
    grid = {}
    for it in items:
        key, _, values = it.partition("=")
        if not values:
            raise SystemExit(f"--grid {it!r}: expected NAME=v1,v2,...")
        grid[key] = [v == "true" if v in ("true", "false") else float(v) for v in values.split(",")]
    return grid


def synthetic_sequences(n: int, length: int = 100, tilt: float = 0.0, opening: float = 0.0,
                        occlusion: bool = False) -> list[TuningSequence]:
    """``n`` synthetic training-split sequences; ``tilt`` > 0: a second part, ``turning``, of ``n`` sequences
    whose object also turns out of plane by up to ``tilt``° (its box's aspect changes by ×2 and more);
    ``opening`` > 0: a third part, ``opening``, of ``n`` sequences whose object starts small and edge-on
    (``opening``° out of plane) and turns to face the camera while it grows ×2.5; ``occlusion``: a fourth part,
    ``occluded``, of ``n`` sequences whose object a passing block hides completely for 12-24 frames while a lure
    of its own kind stands nearby (the lost state and re-detection: a tracker that re-acquires the lure loses the
    rest of the sequence)."""
    from edgecv.train.synth_tracks import synth_tracks

    out = [TuningSequence(t.name, t.frames, t.boxes, "synthetic", "synthetic (training photos, exact boxes)")
           for t in synth_tracks(n, length, seed=0)]
    if tilt:
        out += [TuningSequence(f"turning-{t.name}", t.frames, t.boxes, "turning",
                               f"synthetic, turning out of plane up to {tilt:g}° (training photos, exact boxes)")
                for t in synth_tracks(n, length, seed=1, tilt=tilt)]
    if opening:
        out += [TuningSequence(f"opening-{t.name}", t.frames, t.boxes, "opening",
                               f"synthetic, small and {opening:g}° edge-on, turning to face the camera and growing "
                               "×2.5 (training photos, exact boxes)")
                for t in synth_tracks(n, length, seed=2, tilt=opening, opening=True)]
    if occlusion:
        out += [TuningSequence(f"occluded-{t.name}", t.frames, t.boxes, "occluded",
                               "synthetic, hidden by a passing block for 12-24 frames beside a lure of its kind "
                               "(training photos, exact boxes)")
                for t in synth_tracks(n, length, seed=3, occlusion=True)]
    return out


def score(tracker: str, params, seqs, art_dir, fmt, precision) -> tuple[float, float, dict]:
    """Pooled AUC, the share of frames reported lost outside the ``occluded*`` parts (elsewhere the target never
    leaves, so every lost frame is a false alarm), and the pooled AUC per part (tracklets / synthetic / ...)."""
    per, lost, parts = [], [], {}
    for s in seqs:
        t = siamese_tracker(tracker, art_dir, fmt, precision, threads=1, params=params)
        r = run_sequence(t, s, init_box=getattr(s, "init_box", None))
        sc = metrics.score_sequence(r["boxes"], s.groundtruth)
        per.append(sc)
        parts.setdefault(s.part, []).append(sc)
        lost += list(r["lost"][1:]) if not s.part.startswith("occluded") else []
    return (float(metrics.pool_scores(per)["auc"]), float(np.mean(lost)),
            {k: round(float(metrics.pool_scores(v)["auc"]), 4) for k, v in parts.items()})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracker", required=True, choices=sorted(tracker_names(siamese=True)))
    ap.add_argument("--grid", nargs="+", required=True, help="NAME=v1,v2,... (a field of the tracker's params)")
    ap.add_argument("--artifacts", default="artifacts")
    ap.add_argument("--format", default="onnx", choices=("onnx", "tflite"))
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--sequences", type=int, default=12)
    ap.add_argument("--max-len", type=int, default=120, help="frames per tuning sequence at most")
    ap.add_argument("--synth", type=int, default=0, help="add this many synthetic sequences (100 frames each)")
    ap.add_argument("--synth-tilt", type=float, default=0.0,
                    help="with --synth N: also N sequences whose object turns out of plane by up to this many degrees")
    ap.add_argument("--synth-opening", type=float, default=0.0,
                    help="with --synth N: also N sequences whose object starts small and this many degrees edge-on, "
                         "then turns to face the camera and grows")
    ap.add_argument("--synth-occlusion", action="store_true",
                    help="with --synth N: also N sequences whose object is hidden for a while beside a lure")
    ap.add_argument("--occlude-tracklets", action="store_true",
                    help="also the tracklets with a block hiding the pedestrian for 18 frames (part occluded-real)")
    ap.add_argument("--cross-tracklets", action="store_true",
                    help="also the tracklets with another pedestrian walking across in front (part crossing-real)")
    ap.add_argument("--shifted-starts", action="store_true",
                    help="also the tracklets and the plain synthetic sequences started from a box shifted by 10%% "
                         "(part shifted)")
    ap.add_argument("--out", default=None, help="JSON file for the table (default: out/tune-track/TRACKER.json)")
    ap.add_argument("--area", default=None,
                    help="also write the table to bench/results/AREA.json (e.g. tracker-tuning), for BENCHMARKS.md")
    a = ap.parse_args()

    base = default_params(a.tracker)
    grid = _parse_grid(a.grid)
    for k in grid:
        if k not in {f.name for f in dataclasses.fields(base)}:
            raise SystemExit(f"--grid: {type(base).__name__} has no field {k!r}")
    seqs = tuning_sequences(a.sequences, max_len=a.max_len)
    real = list(seqs)
    seqs += occluded_tracklets(real) if a.occlude_tracklets else []
    seqs += crossing_tracklets(real) if a.cross_tracklets else []
    seqs += synthetic_sequences(a.synth, tilt=a.synth_tilt, opening=a.synth_opening,
                                occlusion=a.synth_occlusion) if a.synth else []
    seqs += shifted_starts([s for s in seqs if s.part in ("tracklets", "synthetic")]) if a.shifted_starts else []
    print(f"{len(seqs)} tuning sequences, {sum(len(s) for s in seqs)} frames (vtest.avi training split"
          + (f", {a.synth} synthetic" if a.synth else "") + ")", file=sys.stderr)
    rows = []
    t0 = time.time()
    combos = list(itertools.product(*grid.values()))
    for n, values in enumerate(combos):
        # a field whose default is None (e.g. "not set") takes the grid's value as it is
        setting = {k: v if getattr(base, k) is None else type(getattr(base, k))(v) for k, v in zip(grid, values)}
        auc, lost, parts = score(a.tracker, dataclasses.replace(base, **setting), seqs, a.artifacts, a.format,
                                 a.precision)
        rows.append({"params": setting, "auc": round(auc, 4), "false_lost": round(lost, 4), "parts": parts})
        print(f"[{n + 1}/{len(combos)} {time.time() - t0:.0f}s] {setting} AUC {auc:.3f} {parts}, "
              f"false lost {lost:.1%}", file=sys.stderr)
    rows.sort(key=lambda r: -r["auc"])
    defaults = {k: getattr(base, k) for k in grid}
    res = {"tracker": a.tracker, "format": a.format, "precision": a.precision, "defaults": defaults,
           "sequences": [s.name for s in seqs], "frames": sum(len(s) for s in seqs), "rows": rows,
           "best": rows[0]}
    out = Path(a.out or f"out/tune-track/{a.tracker}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    part_names = sorted(rows[0]["parts"])
    print("| rank | " + " | ".join(grid) + " | AUC | " + "".join(f"{p} | " for p in part_names) + "false lost |")
    print("|---|" + "---|" * (len(grid) + len(part_names)) + "---|---|")
    for i, r in enumerate(rows[:12]):
        print(f"| {i + 1} | " + " | ".join(str(r["params"][k]) for k in grid)
              + f" | {r['auc']:.3f} | " + "".join(f"{r['parts'][p]:.3f} | " for p in part_names)
              + f"{r['false_lost']:.1%} |")
    print(f"best: {rows[0]}  (defaults {defaults}); written to {out}")
    if a.area:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from common import command, machine, write_result

        write_result(a.area, machine(), command(), ["rank", *grid, "AUC (pooled)", *part_names, "false lost"],
                     [[i + 1, *(str(r["params"][k]) for k in grid), f"{r['auc']:.3f}",
                       *(f"{r['parts'][p]:.3f}" for p in part_names), f"{r['false_lost']:.1%}"]
                      for i, r in enumerate(rows[:12])],
                     [f"{a.tracker} ({a.format} {a.precision}) on {len(seqs)} training-split tuning sequences, "
                      f"{res['frames']} frames; defaults {defaults}. The dev set is not used to choose anything."])


if __name__ == "__main__":
    main()

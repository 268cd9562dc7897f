"""Colorizer speed per backend, precision and working size: the whole per-frame step of the loop (Lab
conversion, resize, the frame graph, merging ab back with the full-resolution L) on real held-out frames,
and the reference encoder (once per video).

All configurations take turns frame by frame in one run (interleaved), so machine noise falls on all of
them alike. The original system's public model (VGG19 features + non-local correspondence + colorization
net, 59.7 M parameters) takes about 3.0 s per frame at 320×240 on one core of this machine (figure from
the issue); the ratio to it is printed.

    python bench/bench_colorize.py --artifacts artifacts --threads 1
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command, machine, md_rows, write_result  # noqa: E402

from edgecv import data  # noqa: E402
from edgecv.runtime.bundle import backend_format  # noqa: E402
from edgecv.runtime.colorize import Colorizer, find_artifacts  # noqa: E402
from edgecv.runtime.manifest import read_manifest  # noqa: E402

REFERENCE_MS = 3000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifacts", default="artifacts")
    ap.add_argument("--configs", default="ort:fp32,ort:fp16,ort:int8,litert:fp32,litert:fp16,litert:int8")
    ap.add_argument("--sizes", default="320x240,640x480")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--native", action="store_true",
                    help="Feed the video's own 720x528 frames (the loop resizes them and merges at that size), "
                         "instead of frames already at the working size.")
    ap.add_argument("--no-append", action="store_true",
                    help="do not write bench/results/colorize-speed[-native].json")
    a = ap.parse_args()
    import cv2

    root = data.ensure_samples(verbose=False)
    frames = data.read_frames(root / "Megamind.avi", max_frames=a.runs + 3, start=200)  # held-out, one shot
    ref = frames[0]
    cols, skipped = {}, []
    for size in a.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        vid = frames if a.native else [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames]
        for cfg in a.configs.split(","):
            backend, prec = cfg.split(":")
            fmt = backend_format(backend)
            try:
                arts = find_artifacts(a.artifacts, "excolor", fmt, prec, None, size)
            except FileNotFoundError as e:
                skipped.append(f"{cfg} {size}: {e}")
                continue
            cols[(backend, prec, size)] = (Colorizer(arts, backend, a.threads), vid)
    times = {k: [] for k in cols}
    ref_ms = {k: [] for k in cols}
    for c, vid in cols.values():  # warm-up
        c.set_reference(ref)
        for f in vid[:3]:
            c.step(f)
    for i in range(a.runs):
        for k, (c, vid) in cols.items():
            if i % 5 == 0:
                t0 = time.perf_counter()
                c.set_reference(ref)
                ref_ms[k].append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            c.step(vid[3 + i])
            times[k].append((time.perf_counter() - t0) * 1e3)
    lines = ["| backend | precision | size | ms/frame median | p90 | fps | vs 3.0 s reference | reference encoder ms | "
             "frame graph MB | frame graph MMACs |", "|---|---|---|---|---|---|---|---|---|---|"]
    for k, (c, _) in cols.items():
        t = np.asarray(times[k])
        man = read_manifest(c.artifacts.frame)
        med = float(np.median(t))
        lines.append(f"| {k[0]} | {k[1]} | {k[2]} | {med:.1f} | {np.percentile(t, 90):.1f} | {1000 / med:.1f} | "
                     f"{REFERENCE_MS / med:.0f}× | {np.median(ref_ms[k]):.1f} | {man['bytes'] / 1e6:.2f} | "
                     f"{man['cost']['macs'] / 1e6:.0f} |")
    note = (f"excolor, {a.threads} thread(s), {a.runs} frames of held-out Megamind.avi (frames 200+, one shot) per "
            "configuration, " + (f"fed at the video's own {frames[0].shape[1]}x{frames[0].shape[0]}, " if a.native
                                  else "fed at the working size, ") + "all "
            "configurations interleaved frame by frame; the step includes Lab conversion, resizing and merging "
            "ab with the full-resolution L.")
    notes = [note] + (["Not measured (artifact missing): " + "; ".join(skipped)] if skipped else [])
    print(note + "\n\n" + "\n".join(lines) + "".join("\n\n" + n for n in notes[1:]))
    if not a.no_append:
        write_result("colorize-speed-native" if a.native else "colorize-speed", machine(), command(),
                     *md_rows(lines), notes)


if __name__ == "__main__":
    main()

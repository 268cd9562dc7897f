"""Light flow net vs OpenCV's DIS and Farneback on held-out pairs with exact flow.

Pairs come from held-out composite clips (:mod:`edgecv.train.clips`: real people and photo patches
moving over real backgrounds, split ``heldout``), key and current frame 1–9 frames apart, 256×320.
End-point error is reported twice: at full resolution in pixels (our flow is predicted at the
feature stride 8 and upsampled), and at the feature grid in feature pixels (where DFF uses it; every
method's full-resolution flow is averaged over each 8×8 cell). Timing: each method in turns, one
pair at a time, one thread.

    python bench/bench_flow.py --artifacts artifacts --pairs 80
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command, machine, md_rows, write_result  # noqa: E402

from edgecv import runtime  # noqa: E402
from edgecv.runtime.bundle import artifact_name, backend_format  # noqa: E402
from edgecv.train.clips import ClipSampler, flow_to_feature_grid  # noqa: E402

STRIDE = 8


def to_input(frame):
    return np.ascontiguousarray(frame[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32) / 255.0


def heldout_pairs(n, seed=11, size=(256, 320), length=10):
    sampler = ClipSampler("heldout", seed=seed)
    rng = np.random.default_rng(seed)
    pairs = []
    while len(pairs) < n:
        c = sampler.sample(size, length)
        for _ in range(4):
            gap = int(rng.integers(1, 10))
            k = int(rng.integers(0, length - gap))
            t = k + gap
            if rng.random() < 0.5:
                k, t = t, k
            pairs.append((c.frames[k], c.frames[t], c.flow(t, k)))
    return pairs[:n]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifacts", default="artifacts")
    ap.add_argument("--model", default="dff-seg", help="comma list of DFF models whose flow graphs to compare")
    ap.add_argument("--pairs", type=int, default=80)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-append", action="store_true", help="do not write bench/results/flow.json")
    a = ap.parse_args()
    cv2.setNumThreads(a.threads)

    art = Path(a.artifacts)
    nets, key_nets = {}, {}   # key_nets: the feature graph that gives a key-cached flow graph its key inputs
    models = a.model.split(",")
    for model in models:
        for b, ops in (("ort", "standard"), ("ort", "portable"), ("litert", "standard")):
            for prec in ("fp32", "int8"):
                name = artifact_name(model, "flow", backend_format(b), prec, ops)
                tag = f"{model} {b}{'/portable' if ops == 'portable' else ''} {prec}"
                if (art / name).exists():
                    nets[tag] = runtime.load(art / name, threads=a.threads, spin=False)
                    if any(n.startswith("key_") for n in nets[tag].input_names):  # a key-cached flow (dff-seg-fast)
                        fname = artifact_name(model, "feature", backend_format(b), prec, ops)
                        if not (art / fname).exists():
                            sys.exit(f"{name} takes the key frame's pyramid from {fname}: export it too")
                        key_nets[tag] = runtime.load(art / fname, threads=a.threads, spin=False)
    if not nets:
        sys.exit(f"no {a.model}-flow artifacts in {art}: run `edgecv export {a.model}` first")

    dis_med = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis_fast = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)

    def gray(f):
        return cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)

    methods = {
        "DIS medium": lambda k, c: dis_med.calc(gray(c), gray(k), None),
        "DIS fast": lambda k, c: dis_fast.calc(gray(c), gray(k), None),
        "Farneback": lambda k, c: cv2.calcOpticalFlowFarneback(gray(c), gray(k), None, 0.5, 4, 15, 3, 5, 1.1, 0),
    }
    key_cache = {}  # method label → the current pair's key pyramid levels, computed before the timed call

    for label, sess in nets.items():
        if label in key_nets:
            label = f"{label} (key pyramid cached)"

            def run(k, c, sess=sess, label=label):
                return sess.run({"current": to_input(c), **key_cache[label]})["flow"][0]
        else:
            def run(k, c, sess=sess):
                return sess.run({"key": to_input(k), "current": to_input(c)})["flow"][0]  # feature px, (2, 32, 40)
        methods[label] = run

    pairs = heldout_pairs(a.pairs)
    err_full = {m: [] for m in methods}
    err_grid = {m: [] for m in methods}
    times = {m: [] for m in methods}
    for key, cur, gt in pairs:
        gt_grid = flow_to_feature_grid(gt, STRIDE)
        for label, feat in key_nets.items():  # once per key frame in DFF: not part of a propagated frame's cost
            fo = feat.run({"image": to_input(key)})
            key_cache[f"{label} (key pyramid cached)"] = {n: fo[n] for n in fo if n.startswith("key_")}
        for m, fn in methods.items():  # in turns: noise falls on every method alike
            t0 = time.perf_counter()
            f = fn(key, cur)
            times[m].append((time.perf_counter() - t0) * 1e3)
            if f.shape[0] == 2:  # ours: feature grid → full resolution pixels
                grid = f
                full = cv2.resize(f.transpose(1, 2, 0) * STRIDE, (gt.shape[1], gt.shape[0]),
                                  interpolation=cv2.INTER_LINEAR)
            else:
                full = f
                grid = flow_to_feature_grid(f, STRIDE)
            err_full[m].append(float(np.linalg.norm(full - gt, axis=2).mean()))
            err_grid[m].append(float(np.linalg.norm(grid - gt_grid, axis=0).mean()))
    zero_full = float(np.mean([np.linalg.norm(g, axis=2).mean() for _, _, g in pairs]))
    zero_grid = float(np.mean([np.linalg.norm(flow_to_feature_grid(g, STRIDE), axis=0).mean() for _, _, g in pairs]))
    rows = ["| method | EPE full-res (px) | EPE feature grid (feature px) | ms per pair (median) |",
            "|---|---|---|---|"]
    res = {}
    for m in methods:
        res[m] = {"epe_full_px": float(np.mean(err_full[m])), "epe_grid": float(np.mean(err_grid[m])),
                  "ms_median": float(np.median(times[m]))}
        rows.append(f"| {m} | {res[m]['epe_full_px']:.2f} | {res[m]['epe_grid']:.3f} | {res[m]['ms_median']:.1f} |")
    rows.append(f"| zero flow (reference) | {zero_full:.2f} | {zero_grid:.3f} | – |")
    note = (f"{len(pairs)} held-out pairs (composite clips of held-out people/backgrounds, 256×320, "
            f"1–9 frames apart), {a.threads} thread(s).")
    if key_nets:
        note += (" A key-cached flow graph (dff-seg-fast) is timed on the current frame alone: the key frame's "
                 "pyramid comes from the feature graph, once per key frame, and is not in its ms.")
    print(note + "\n\n" + "\n".join(rows))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2))
    if not a.no_append:
        write_result("flow", machine(), command(), *md_rows(rows), [note])


if __name__ == "__main__":
    main()

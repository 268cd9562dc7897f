"""Trackers side by side on one real dev sequence: template ms, per-frame ms (median, p90), MACs,
parameters and artifact sizes per tracker × backend × precision; MOSSE, KLT and TrackerMIL in the
same run. Frames are tracked in turns (each tracker takes one frame, then the next tracker), so
machine noise falls on all of them alike.

    python bench/bench_track.py --artifacts artifacts --threads 1
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, command, machine, md_rows, write_result  # noqa: E402

from edgecv.runtime.bundle import backend_format  # noqa: E402
from edgecv.runtime.track import load_sequence, make_tracker  # noqa: E402
from edgecv.runtime.track.crop import affine_crop, to_nchw  # noqa: E402
from edgecv.runtime.track.registry import get_variant, tracker_names  # noqa: E402
from edgecv.runtime.track.siamese_base import find_artifacts  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sequence", default=str(REPO / "datasets/otb-dev/vtest_woman"))
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--artifacts", default="artifacts")
    ap.add_argument("--trackers", default=",".join(tracker_names(siamese=True)))
    ap.add_argument("--backends", default="ort,litert")
    ap.add_argument("--precisions", default="fp32,int8")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-append", action="store_true", help="do not write bench/results/tracker-latency.json")
    a = ap.parse_args()

    seq = load_sequence(a.sequence)
    frames = seq.load_frames()[:a.frames]
    init = tuple(seq.groundtruth[0])
    rows = {}
    for name in a.trackers.split(","):
        for backend in a.backends.split(","):
            for precision in a.precisions.split(","):
                label = f"{name} {backend} {precision}"
                fmt = backend_format(backend)
                t, s = find_artifacts(a.artifacts, get_variant(name).model, fmt, precision)
                man = json.loads(Path(str(s) + ".json").read_text())
                rows[label] = {"make": lambda n=name, b=backend, p=precision: make_tracker(
                    n, a.artifacts, b, p, a.threads), "bytes": t.stat().st_size + s.stat().st_size,
                    "macs": (man.get("cost") or {}).get("macs"), "params": (man.get("cost") or {}).get("params")}
    for name in tracker_names(siamese=False):
        rows[name] = {"make": lambda n=name: make_tracker(n), "bytes": None, "macs": None, "params": None}
    ref_graph = _nanotrack_rows(rows, a.threads)  # outside references, when ../shared/anchors is there

    trackers = {k: r["make"]() for k, r in rows.items()}
    init_ms = {}
    for k, trk in trackers.items():
        t0 = time.perf_counter()
        trk.init(frames[0], init)
        init_ms[k] = (time.perf_counter() - t0) * 1e3
    per_frame = {k: [] for k in trackers}
    graph = {k: [] for k, trk in trackers.items() if hasattr(trk, "net")}
    feeds = {k: dict(trackers[k].z, image=to_nchw(affine_crop(frames[0], 300, 300, 300, trackers[k].net.x_size)[0]))
             for k in graph}
    for f in frames[1:]:
        for k, trk in trackers.items():
            t0 = time.perf_counter()
            trk.update(f)
            per_frame[k].append((time.perf_counter() - t0) * 1e3)
            if k in feeds:  # the search graph alone (what NanoTrack's 2.0/2.9 ms figures time)
                t0 = time.perf_counter()
                trk.net.search_sess.run(feeds[k])
                graph[k].append((time.perf_counter() - t0) * 1e3)
            if k in ref_graph:  # NanoTrack's per-frame graphs (backbone on the 255² crop + head) in onnxruntime
                graph.setdefault(k, []).append(ref_graph[k]())

    lines = [f"Sequence `{Path(a.sequence).name}`, {len(frames)} frames, {a.threads} thread(s); frames taken in "
             "turns. Per-frame time includes cropping and the whole tracker step (search passes per frame, "
             "from the default params: "
             + ", ".join(f"{n} {get_variant(n).search_passes():g}" for n in tracker_names(siamese=True))
             + "). Search graph: one pass of the per-frame graph alone (median), timed in the same turns. "
             "MACs are one search-graph pass.",
             "", "| tracker | backend | precision | template / init ms | per-frame ms median | p90 | fps |"
             " search graph ms | search MMACs | params | artifacts MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for k, r in rows.items():
        parts = k.split(" ", 1) if k in ref_graph else k.split(" ")
        name, backend, precision = (parts + ["-", "-"])[:3]
        t = np.array(per_frame[k])
        g = f"{np.median(graph[k]):.2f}" if k in graph else "–"
        lines.append(f"| {name} | {backend} | {precision} | {init_ms[k]:.1f} | {np.median(t):.2f} | "
                     f"{np.percentile(t, 90):.2f} | {1e3 / np.median(t):.0f} | {g} | "
                     f"{r['macs'] / 1e6:.0f} | {r['params'] / 1e3:.0f} k | {r['bytes'] / 1e6:.2f} |"
                     if r["macs"] else f"| {name} | {backend} | {precision} | {init_ms[k]:.1f} | "
                     f"{np.median(t):.2f} | {np.percentile(t, 90):.2f} | {1e3 / np.median(t):.0f} | {g} | – | – | – |")
    print("\n".join(lines))
    if not a.no_append:  # lines: the note, a blank line, then the table
        write_result("tracker-latency", machine(), command(), *md_rows(lines[2:]), [lines[0]])


def _nanotrack_rows(rows: dict, threads: int) -> dict:
    """Add NanoTrack V2/V3 (OpenCV's TrackerNano, ``eval/anchors.py``) as reference rows; return, per row, a
    function timing one pass of its per-frame graphs (backbone on the 255² crop + head) in onnxruntime with
    ``threads`` threads, so the search-graph column compares like with like."""
    import onnxruntime as ort

    from edgecv.eval.anchors import AnchorError, NanoTrackTracker, find_nanotrack

    try:
        models = find_nanotrack()
    except AnchorError as e:
        print(f"[anchors] reference rows skipped: {e}")
        return {}
    timers = {}
    for name, m in models.items():
        label = f"{name} (ref, OpenCV)"
        rows[label] = {"make": lambda m=m: NanoTrackTracker(m, threads), "bytes": m.backbone.stat().st_size
                       + m.head.stat().st_size, "macs": None, "params": None}
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        bb = ort.InferenceSession(str(m.backbone), so, providers=["CPUExecutionProvider"])
        hd = ort.InferenceSession(str(m.head), so, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).random((1, 3, 255, 255), dtype=np.float32)
        feat = bb.run(None, {bb.get_inputs()[0].name: x})[0]
        zin = hd.get_inputs()[0]
        z = np.zeros([int(d) for d in zin.shape], np.float32)

        def one(bb=bb, hd=hd, x=x, z=z, zname=zin.name, xname=hd.get_inputs()[1].name):
            t0 = time.perf_counter()
            f = bb.run(None, {bb.get_inputs()[0].name: x})[0]
            hd.run(None, {zname: z, xname: f})
            return (time.perf_counter() - t0) * 1e3
        assert feat.shape[1] == z.shape[1]
        timers[label] = one
    return timers


if __name__ == "__main__":
    main()

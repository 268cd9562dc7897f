"""DFF's premise, measured: flow net + warp/head vs the feature net, per backend and precision.

The three graphs of a DFF model run in turns on real frames (feature, flow, head, then the next
backend/precision), so noise falls on all alike. Reported: median / p90 ms per graph, the cost of a
key frame (feature + head) and of a propagated frame (flow + head), their ratio, and MACs from the
manifests, and op counts (graph nodes) from the manifests.

    python bench/bench_dff_cost.py --artifacts artifacts --threads 1
    python bench/bench_dff_cost.py --artifacts old=" (before)",artifacts   # two exports, timed in the same turns
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command, machine, md_rows, write_result  # noqa: E402

from edgecv import data, runtime  # noqa: E402
from edgecv.runtime.bundle import PIPELINES, artifact_path, backend_format  # noqa: E402

PARTS = PIPELINES["propagate"].parts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifacts", default="artifacts",
                    help="artifact folder, or a comma list DIR[=LABEL],... timed in the same turns (e.g. two exports)")
    ap.add_argument("--models", default="dff-seg")
    ap.add_argument("--configs",
                    default="ort:fp32:standard,ort:fp32:portable,ort:int8:standard,litert:fp32,litert:int8")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--no-append", action="store_true")
    a = ap.parse_args()
    dirs = [(Path(d.split("=")[0]), d.split("=", 1)[1] if "=" in d else "") for d in a.artifacts.split(",")]
    frames = data.check_frames(6, photos=False)
    import cv2

    def inp(f):
        x = cv2.resize(f, (320, 256), interpolation=cv2.INTER_AREA)[:, :, ::-1].transpose(2, 0, 1)
        return np.ascontiguousarray(x[None], dtype=np.float32) / 255.0

    images = [inp(f) for f in frames]
    rows = []
    for model in a.models.split(","):
        sessions = {}
        for art, label in dirs:
            for cfg in a.configs.split(","):
                backend, precision, *rest = cfg.split(":")
                ops = rest[0] if rest else "standard"
                fmt = backend_format(backend)
                paths = {p: artifact_path(art, model, p, fmt, precision, ops) for p in PARTS}
                if not all(p.exists() for p in paths.values()):
                    print(f"skip {model} {cfg}: missing {[str(p) for p in paths.values() if not p.exists()]}")
                    continue
                sessions[(label, cfg)] = {p: runtime.load(paths[p], backend=backend, threads=a.threads, spin=False)
                                          for p in PARTS}
        if not sessions:
            continue
        any_cfg = next(iter(sessions.values()))
        fo = any_cfg["feature"].run({"image": images[0]})
        feats = fo["features"]
        # the flow graph takes the key frame, or (dff-seg-fast) the key frame's pyramid from the feature graph
        flow_feeds = {"current": images[1]} | {t.name: fo[t.name] if t.name.startswith("key_") else images[0]
                                               for t in any_cfg["flow"].inputs if t.name != "current"}
        fl = any_cfg["flow"].run(flow_feeds)
        feeds = {"feature": {"image": images[0]}, "flow": flow_feeds,
                 "head": {"features": feats, "flow": fl["flow"], "scale": fl["scale"]}}
        if "context" in fl:  # a context model (dff-seg-ctx): the head also takes the current frame's encoding
            feeds["head"]["context"] = fl["context"]
        times = {(c, p): [] for c in sessions for p in PARTS}
        for i in range(a.runs + 3):
            for c, parts in sessions.items():
                for p in PARTS:
                    t0 = time.perf_counter()
                    parts[p].run(feeds[p])
                    if i >= 3:
                        times[(c, p)].append((time.perf_counter() - t0) * 1e3)
        for (label, c), parts in sessions.items():
            med = {p: float(np.median(times[((label, c), p)])) for p in PARTS}
            p90 = {p: float(np.percentile(times[((label, c), p)], 90)) for p in PARTS}
            macs = {p: (parts[p].manifest or {}).get("cost", {}).get("macs", 0) / 1e6 for p in PARTS}
            nops = {p: sum((parts[p].manifest or {}).get("op_counts", {}).values()) for p in PARTS}
            key, prop = med["feature"] + med["head"], med["flow"] + med["head"]
            rows.append(f"| {model}{label} | {c} | {med['feature']:.1f} / {p90['feature']:.1f} | {med['flow']:.2f} / "
                        f"{p90['flow']:.2f} | {med['head']:.2f} / {p90['head']:.2f} | {key:.1f} | {prop:.2f} | "
                        f"1/{med['feature'] / prop:.1f} | {macs['feature']:.0f} / {macs['flow']:.0f} / "
                        f"{macs['head']:.0f} | {nops['feature']} / {nops['flow']} / {nops['head']} |")
    body = ("Frames 256×320, features 64×32×40; "
            f"{a.threads} thread(s), {a.runs} runs per graph in turns; ms as median / p90.\n\n"
            "| model | backend:precision:ops | feature ms | flow ms | warp+head ms | key frame ms | "
            "propagated frame ms | (flow+head) / feature | MMACs feature / flow / head | ops feature / flow / head |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows))
    print(body)
    if not a.no_append:  # bench/results/propagation-cost.json; then python bench/render.py
        note, table = body.split("\n\n", 1)
        write_result("propagation-cost", machine(), command(), *md_rows(table.splitlines()), [note])


if __name__ == "__main__":
    main()

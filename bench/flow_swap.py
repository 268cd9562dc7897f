"""Does a more accurate flow keep more accuracy in DFF? The flow graph of a DFF bundle is swapped for OpenCV's DIS
(ultrafast / fast / medium presets; flow resized to the feature grid, unit scale map) and the held-out clips of
``edgecv eval propagate`` are scored at several key intervals, beside the bundle's own flow net. Prints a table;
entered by hand into BENCHMARKS.md (issue 25: the answer decides whether to spend on flow accuracy or on cost).

    OMP_NUM_THREADS=1 python bench/flow_swap.py --model dff-seg-lite0 --flows net,ultra,fast,medium
"""
from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from edgecv.cli import default_propagation_dataset
from edgecv.eval.propagate import Confusion, load_clips, run_policy
from edgecv.runtime.propagate.loop import Propagator

PRESETS = {"ultra": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
           "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


class DISFlow:
    """Stands in for the flow session: DIS on the grey frames (current → key), averaged onto the feature grid."""

    def __init__(self, preset, grid, channels, stride=8, context=None):
        self.dis = cv2.DISOpticalFlow_create(preset)
        self.grid, self.channels, self.stride, self.ms = grid, channels, stride, []
        self.context = context  # a context model's flow session, run only for its context output

    @staticmethod
    def _grey(x):
        return (x[0].transpose(1, 2, 0) @ np.array([0.299, 0.587, 0.114], np.float32) * 255).astype(np.uint8)

    def run(self, feeds):
        t = time.perf_counter()
        f = self.dis.calc(self._grey(feeds["current"]), self._grey(feeds["key"]), None)  # current(x) ≈ key(x + f)
        h, w = self.grid
        f = cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) / self.stride
        self.ms.append((time.perf_counter() - t) * 1e3)
        out = {"flow": np.ascontiguousarray(f.transpose(2, 0, 1)[None], np.float32),
               "scale": np.ones((1, self.channels, h, w), np.float32)}
        if self.context is not None:
            out["context"] = self.context.run(feeds)["context"]
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="dff-seg-lite0")
    ap.add_argument("--artifacts", default="artifacts")
    ap.add_argument("--flows", default="net,ultra,fast,medium")
    ap.add_argument("--policies", default="1,5,10,20")
    a = ap.parse_args()
    clips = load_clips(default_propagation_dataset())
    pols = [int(p) for p in a.policies.split(",")]
    print("| flow | " + " | ".join(f"K={p} mIoU (% of K=1)" for p in pols) + " | flow ms (median) |")
    print("|---|" + "---|" * (len(pols) + 1))
    for v in a.flows.split(","):
        prop = Propagator.from_dir(a.artifacts, a.model, "ort", "fp32", "standard", policy=1, threads=1)
        if v != "net":
            prop.flow_sess = DISFlow(PRESETS[v], prop.grid_hw, prop.channels,
                                     context=prop.flow_sess if prop.context else None)
        res = {}
        for p in pols:
            conf = Confusion()
            for _, frames, labels in clips:
                masks, _, _ = run_policy(prop, p, frames)
                for m, lab in zip(masks, labels):
                    conf.add(m, lab)
            res[p] = float(conf.iou().mean())
        ms = f"{np.median(prop.flow_sess.ms):.2f}" if v != "net" else "(graph)"
        name = "flow net (the bundle's)" if v == "net" else f"DIS {v}"
        print(f"| {name} | " + " | ".join(f"{res[p]:.3f} ({100 * res[p] / res[1]:.1f}%)" for p in pols)
              + f" | {ms} |", flush=True)


if __name__ == "__main__":
    main()

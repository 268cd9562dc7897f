"""Graphs side by side in onnxruntime: per round, a fresh session per artifact, warm-up, then the median of
``--runs`` timed runs; rounds interleave the artifacts so machine noise falls on all of them alike. Prints the
median of the round medians and every round's median; ``--area search-graph`` also writes them to
bench/results/search-graph.json (then ``python bench/render.py``).

    python bench/bench_graphs.py artifacts/spm-nano-search-standard-int8.onnx \
        artifacts/spm-lite-search-standard-int8.onnx
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("artifacts", nargs="+")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--area", default=None, help="also write the figures to bench/results/AREA.json")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    res: dict[str, list[float]] = {}
    for _ in range(a.rounds):
        for path in a.artifacts:
            so = ort.SessionOptions()
            so.intra_op_num_threads = a.threads
            s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            feeds = {i.name: rng.random(i.shape, dtype=np.float32) for i in s.get_inputs()}
            for _ in range(a.warmup):
                s.run(None, feeds)
            t = []
            for _ in range(a.runs):
                t0 = time.perf_counter()
                s.run(None, feeds)
                t.append(time.perf_counter() - t0)
            res.setdefault(path, []).append(float(np.median(t)) * 1e3)
    for path, v in res.items():
        print(f"{path:60s} {np.median(v):.2f} ms (rounds {' '.join(f'{x:.2f}' for x in v)})")
    if a.area:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from common import command, machine, write_result

        write_result(a.area, machine(), command(), ["graph", "ORT ms (median of round medians)", "round medians ms"],
                     [[Path(p).name, f"{np.median(v):.2f}", " ".join(f"{x:.2f}" for x in v)] for p, v in res.items()],
                     [f"Each of {a.rounds} rounds: a fresh onnxruntime session per graph, {a.warmup} warm-up runs, the "
                      f"median of {a.runs}; graphs interleaved in rounds; {a.threads} intra-op thread(s); random "
                      "inputs."])


if __name__ == "__main__":
    main()

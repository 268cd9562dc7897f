"""Wall time of an ``edgecv eval track`` sweep: the local path, and on a local Ray cluster of 1 and 2 worker
processes, run one after another, each from a fresh output folder (no unit reused), repeated ``--repeats``
times in rotating order; the medians. Every run's AUCs must be the same (checked): Ray changes where the
work runs, not what it computes.

    python bench/bench_scale.py --repeats 2
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, command, machine, write_result  # noqa: E402

CONFIGS = {"local (no Ray)": [], "Ray, 1 worker": ["--ray", "--workers", "1"],
           "Ray, 2 workers": ["--ray", "--workers", "2"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default=str(REPO / "datasets/otb-dev"))
    ap.add_argument("--trackers", default="boxtrack,boxtrack-fast,spm-lite0,mosse,klt")
    ap.add_argument("--precisions", default="int8")
    ap.add_argument("--artifacts", default="artifacts")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    base = [sys.executable, "-m", "edgecv.cli", "eval", "track", "--dataset", a.dataset, "--trackers", a.trackers,
            "--precisions", a.precisions, "--artifacts", a.artifacts, "--threads", "1", "--no-anchors"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    walls = {k: [] for k in CONFIGS}
    aucs = {}
    names = list(CONFIGS)
    for r in range(a.repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:   # rotate the order between repeats
            out = Path(tempfile.mkdtemp(prefix="bench-scale-"))
            t0 = time.perf_counter()
            p = subprocess.run(base + ["--out", str(out)] + CONFIGS[name], env=env, cwd=REPO, capture_output=True,
                               text=True)
            wall = time.perf_counter() - t0
            if p.returncode != 0:
                sys.exit(f"{name}: failed\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
            res = json.loads((out / "results.json").read_text())["trackers"]
            got = {t: v["overall"]["auc"] for t, v in res.items()}
            if aucs and got != aucs:
                sys.exit(f"{name}: AUCs differ from the first run: {got} vs {aucs}")
            aucs = got
            units = len(list((out / ".units").rglob("*.json"))) if (out / ".units").is_dir() else 0
            walls[name].append(wall)
            print(f"{name}: {wall:.1f} s ({units} units)", flush=True)
            shutil.rmtree(out, ignore_errors=True)
    import numpy as np

    med = {k: float(np.median(v)) for k, v in walls.items()}
    n_seq = len([p for p in Path(a.dataset).iterdir() if (p / "groundtruth_rect.txt").is_file()])
    n_trk = len(a.trackers.split(",")) * 1
    rows = [[k, round(med[k], 1), ", ".join(f"{w:.1f}" for w in walls[k]),
             f"{med['Ray, 1 worker'] / med[k]:.2f}×"] for k in CONFIGS]
    notes = [f"Sweep: `edgecv eval track --dataset {Path(a.dataset).name} --trackers {a.trackers} --precisions "
             f"{a.precisions} --threads 1 --no-anchors` ({n_trk} rows × {n_seq} sequences = {n_trk * n_seq} units "
             "on Ray); wall time of the whole command as a user runs it (CLI start, Ray start, the units, scoring "
             "and plots), each run from a fresh --out, medians of "
             f"{a.repeats} runs in rotating order.",
             "Every run gave the same AUC per tracker (checked by the script): "
             + ", ".join(f"{t} {v:.3f}" for t, v in aucs.items()) + ".",
             "Speed-up = Ray 1 worker / this row. Two workers on a 2-core VM: each unit runs its tracker on one "
             "inference thread, so two units use both cores; the rest is the Ray start (a few seconds) and the "
             "longest sequence's units finishing last."]
    if a.no_write:
        print(rows)
        return
    write_result("scale", machine(), command(), ["run", "wall s (median)", "runs, s", "speed-up vs Ray 1 worker"],
                 rows, notes, title="Scale-out: an eval sweep locally and on Ray (1 vs 2 workers)")


if __name__ == "__main__":
    main()

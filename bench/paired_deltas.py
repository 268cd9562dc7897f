"""How much is a difference between two trackers on the dev set worth? A paired bootstrap over runs.

Reads ``results.json`` files of ``edgecv eval track`` and pairs two trackers run by run (same sequence,
same start): the pooled-AUC difference B − A, its 95% interval over runs resampled with replacement,
the runs whose |Δ| exceeds 0.05 (drifts: one of the two lost the target) and the difference on the
rest (:func:`edgecv.eval.track.compare`). Trackers are named ``FILE_LABEL:NAME``;
``--pairs`` takes ``A=B`` items; without it, every int8/fp16 tracker is paired with its fp32 one.

    python bench/paired_deltas.py out/eval10-ort/results.json out/eval10-ort-fc/results.json \
        --pairs 0:siamfc/ort/fp32=1:siamfc 0:mil=0:klt
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgecv.eval.track import compare, precision_deltas


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="+", help="results.json files; the first is label 0, the next 1, ...")
    ap.add_argument("--pairs", nargs="*", default=None, help="A=B items, each FILE_LABEL:TRACKER")
    ap.add_argument("--area", default=None, help="also write the table to bench/results/AREA.json, for BENCHMARKS.md")
    args = ap.parse_args()
    files = [json.load(open(p)) for p in args.results]

    def get(ref):
        label, _, name = ref.partition(":")
        return files[int(label)]["trackers"][name]

    rows = []
    if args.pairs:
        for item in args.pairs:
            a, _, b = item.partition("=")
            d = compare(get(a), get(b))
            if d is None:
                raise SystemExit(f"{a} and {b} share no runs (sequence × start)")
            rows.append((a, b, d))
    else:
        for i, f in enumerate(files):
            for name, d in precision_deltas(f).items():
                rows.append((f"{i}:{d['reference']}", f"{i}:{name}", d))
    print(f"{'B − A':58s} {'ΔAUC pt':>8s} {'95% interval':>16s} {'runs':>5s} {'|Δ|>.05':>7s} {'rest pt':>8s}")
    for a, b, d in rows:
        lo, hi = d["ci95"]
        print(f"{b + ' − ' + a:58s} {100 * d['delta']:+8.1f} {f'[{100 * lo:+.1f}, {100 * hi:+.1f}]':>16s} "
              f"{d['runs']:5d} {d['drifts']:7d} {100 * d['delta_without_drifts']:+8.2f}")
    if args.area:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from common import command, machine, write_result

        write_result(args.area, machine(), command(),
                     ["B − A", "Δ AUC pt", "95% interval", "runs", "runs with |Δ| > 0.05", "Δ without them, pt"],
                     [[f"{b} − {a}", f"{100 * d['delta']:+.1f}",
                       f"[{100 * d['ci95'][0]:+.1f}, {100 * d['ci95'][1]:+.1f}]", d["runs"], d["drifts"],
                       f"{100 * d['delta_without_drifts']:+.2f}"] for a, b, d in rows],
                     ["Paired bootstrap over runs (same sequence, same start), 95%; files: "
                      + ", ".join(f"{i} = {p}" for i, p in enumerate(args.results))])


if __name__ == "__main__":
    main()

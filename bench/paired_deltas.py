"""How much is a difference between two trackers on the dev set worth? A paired bootstrap over runs.

Reads ``results.json`` files of ``edgecv eval track`` and pairs two trackers run by run (same sequence,
same start): the pooled-AUC difference B − A, its 95% interval over runs resampled with replacement,
the runs whose |Δ| exceeds 0.05 (drifts: one of the two lost the target) and the difference on the
rest (:func:`edgecv.runtime.track.metrics.paired_delta`). Trackers are named ``FILE_LABEL:NAME``;
``--pairs`` takes ``A=B`` items; without it, every int8/fp16 tracker is paired with its fp32 one.

    python bench/paired_deltas.py out/eval10-ort/results.json out/eval10-ort-fc/results.json \
        --pairs 0:siamfc/ort/fp32=1:siamfc 0:mil=0:spm-nano/ort/fp32
"""
from __future__ import annotations

import argparse
import json

from edgecv.runtime.track.evaluate import precision_deltas
from edgecv.runtime.track.metrics import paired_delta


def _runs(res: dict) -> dict:
    if "runs" in res:
        return {(r["sequence"], r["init"]): (r["auc"], r["frames"]) for r in res["runs"]}
    out = {}  # results written before "runs" existed: per-start AUCs, scored frames shared equally
    for seq, v in res["sequences"].items():
        aucs = v.get("auc_per_init") or [v["auc"]]
        for k, a in enumerate(aucs):
            out[(seq, k)] = (a, v["scored_frames"] / len(aucs))
    return out


def pair(a: dict, b: dict) -> dict:
    ra, rb = _runs(a), _runs(b)
    keys = [k for k in ra if k in rb]
    if not keys:
        raise SystemExit("the two trackers share no runs (sequence × start)")
    return paired_delta([ra[k][0] for k in keys], [rb[k][0] for k in keys], [ra[k][1] for k in keys])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="+", help="results.json files; the first is label 0, the next 1, ...")
    ap.add_argument("--pairs", nargs="*", default=None, help="A=B items, each FILE_LABEL:TRACKER")
    args = ap.parse_args()
    files = [json.load(open(p)) for p in args.results]

    def get(ref):
        label, _, name = ref.partition(":")
        return files[int(label)]["trackers"][name]

    rows = []
    if args.pairs:
        for item in args.pairs:
            a, _, b = item.partition("=")
            rows.append((a, b, pair(get(a), get(b))))
    else:
        for i, f in enumerate(files):
            for name, d in precision_deltas(f).items():
                rows.append((f"{i}:{d['reference']}", f"{i}:{name}", d))
    print(f"{'B − A':58s} {'ΔAUC pt':>8s} {'95% interval':>16s} {'runs':>5s} {'|Δ|>.05':>7s} {'rest pt':>8s}")
    for a, b, d in rows:
        lo, hi = d["ci95"]
        print(f"{b + ' − ' + a:58s} {100 * d['delta']:+8.1f} {f'[{100 * lo:+.1f}, {100 * hi:+.1f}]':>16s} "
              f"{d['runs']:5d} {d['drifts']:7d} {100 * d['delta_without_drifts']:+8.2f}")


if __name__ == "__main__":
    main()

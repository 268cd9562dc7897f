"""Score an interrupted `edgecv eval track` run from its box files with the evaluator's own metrics and paired
intervals (SiamFC/SA-Siam on the held-out synthetic set, BENCHMARKS.md 2026-12-02); checks itself against a
finished run's results.json (spm-nano).

    python bench/score_boxes_synth.py   # after the two runs named in BENCHMARKS.md
"""
import glob
import json
import os

import numpy as np

from edgecv.runtime.track.metrics import paired_delta, pool_scores, score_sequence
from edgecv.runtime.track.sequences import read_boxes, read_groundtruth

D = "out/otb-synth-heldout"


def load(label, root):
    out = {}
    for f in sorted(glob.glob(f"{root}/boxes/{label}/synth*.txt")):
        name = os.path.basename(f)[:-4]
        b = read_boxes(f)
        b = b[0] if isinstance(b, tuple) else b
        out[name] = score_sequence(np.asarray(b)[:, :4], read_groundtruth(f"{D}/{name}/groundtruth_rect.txt"))
    return out


def pt(d):
    return f"{100 * d['delta']:+.1f} [{100 * d['ci95'][0]:+.1f}, {100 * d['ci95'][1]:+.1f}]"


def main():
    a = json.load(open("out/synth-ort-a/results.json"))["trackers"]
    runs = {}
    for lab in ["siamfc/ort/fp32", "siamfc/ort/int8", "sasiam/ort/fp32", "sasiam/ort/int8"]:
        runs[lab] = load(lab, "out/synth-ort-b")
        p = pool_scores(list(runs[lab].values()))
        print(lab, len(runs[lab]), round(p["auc"], 3), round(p["precision20"], 3))
    for fp in ["siamfc", "sasiam"]:
        x, y = runs[f"{fp}/ort/fp32"], runs[f"{fp}/ort/int8"]
        k = sorted(x)
        d = paired_delta([x[n]["auc"] for n in k], [y[n]["auc"] for n in k], [x[n]["frames"] for n in k])
        print(f"{fp} int8 − fp32 {pt(d)}, {d['drifts']} drifts, {100 * d['delta_without_drifts']:+.2f} without")
        for base in ["mil", "mosse", "klt"]:
            s = a[base]["sequences"]
            d = paired_delta([s[n]["auc"] for n in k], [x[n]["auc"] for n in k], [x[n]["frames"] for n in k])
            print(f"   {fp} fp32 − {base} {pt(d)}")
    r = load("spm-nano/ort/fp32", "out/synth-ort-a")
    mine, theirs = pool_scores(list(r.values()))["auc"], a["spm-nano/ort/fp32"]["overall"]["auc"]
    print("check spm-nano", round(mine, 4), round(theirs, 4))


if __name__ == "__main__":
    main()

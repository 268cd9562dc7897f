"""Score the box files an `edgecv eval track` run left behind (one that was stopped before it wrote
results.json) into a results.json that `bench/paired_deltas.py` can pair, with the evaluator's own metrics.
One-pass runs only (``NAME.txt``; ``NAME.initK.txt`` files are ignored).

    python bench/score_boxes.py out/otb-synth-heldout out/synth-ort-b --out out/synth-ort-b/results.json
    python bench/paired_deltas.py out/synth-ort-b/results.json out/synth-ort-a/results.json \
        --pairs 0:siamfc/ort/fp32=0:siamfc/ort/int8 1:mil=0:siamfc/ort/fp32
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgecv.eval.track_metrics import pool_scores, score_sequence
from edgecv.runtime.track import list_sequences
from edgecv.runtime.track.sequences import read_boxes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset", help="the OTB folder the run evaluated")
    ap.add_argument("run", help="the run's --out folder (with boxes/TRACKER/...)")
    ap.add_argument("--out", required=True, help="results.json to write")
    args = ap.parse_args()
    seqs = {s.name: s for s in list_sequences(args.dataset)}
    trackers = {}
    for d in sorted(p.parent for p in Path(args.run, "boxes").rglob("*.txt")):
        label = str(d.relative_to(Path(args.run, "boxes")))
        if label in trackers:
            continue
        per_seq, scored = {}, []
        for f in sorted(d.glob("*.txt")):
            if ".init" in f.name or f.stem not in seqs:
                continue
            boxes, _ = read_boxes(f)
            sc = score_sequence(boxes, seqs[f.stem].groundtruth)
            scored.append(sc)
            per_seq[f.stem] = {"auc": sc["auc"], "precision20": sc["precision20"], "scored_frames": sc["frames"]}
        pooled = pool_scores(scored)
        trackers[label] = {"overall": {"auc": pooled["auc"], "precision20": pooled["precision20"]},
                           "sequences": per_seq}
        print(f"{label:24s} {len(per_seq):4d} runs  AUC {pooled['auc']:.4f}  P@20 {pooled['precision20']:.3f}")
    Path(args.out).write_text(json.dumps({"dataset": args.dataset, "trackers": trackers}, indent=1))


if __name__ == "__main__":
    main()

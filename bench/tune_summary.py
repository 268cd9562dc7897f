"""One results table from several ``bench/tune_track.py`` runs (each one tracker, or one export of it, over the same
tuning sequences): a row per tracker × setting, ranked by pooled AUC, with each part's AUC.

    python bench/tune_summary.py --area siamese-lite0-tuning out/tune-track/siamfc-lite0.json \\
        out/tune-track/sasiam-lite0-lam0.3.json --label sasiam-lite0-lam0.3="sasiam-lite0 (λ 0.3)"
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command, machine, write_result  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", help="tune_track.py output files (JSON)")
    ap.add_argument("--area", required=True)
    ap.add_argument("--title", default=None)
    ap.add_argument("--label", nargs="*", default=[], help="FILE_STEM=label: how a run is named in the table")
    ap.add_argument("--note", nargs="*", default=[])
    a = ap.parse_args()
    labels = dict(x.split("=", 1) for x in a.label)
    docs = [(Path(p), json.loads(Path(p).read_text())) for p in a.runs]
    seqs = {tuple(d["sequences"]) for _, d in docs}
    if len(seqs) != 1:
        raise SystemExit("the runs were made on different tuning sequences: not one table")
    parts = sorted({k for _, d in docs for r in d["rows"] for k in r["parts"]})
    rows = []
    for path, d in docs:
        for r in d["rows"]:
            setting = ", ".join(f"{k} {v}" for k, v in r["params"].items())
            auc = [round(r["auc"], 3), *[round(r["parts"][p], 3) for p in parts]]
            rows.append([labels.get(path.stem, d["tracker"]), f"{d['format']} {d['precision']}", setting, *auc,
                         f"{100 * r['false_lost']:.1f}%"])
    rows.sort(key=lambda r: -r[3])
    _, first = docs[0]
    notes = [f"{len(first['sequences'])} training-split tuning sequences, {first['frames']} frames (the material of "
             "`bench/tune_track.py`'s flags as each run's command gave them; never the dev set)", *a.note]
    write_result(a.area, machine(), command(), ["tracker", "graphs", "setting", "AUC (pooled)", *parts, "false lost"],
                 rows, notes, title=a.title)


if __name__ == "__main__":
    main()

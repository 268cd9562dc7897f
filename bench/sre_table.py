"""The dev set from imprecise starts: OTB's spatial robustness evaluation (SRE) beside the plain one-pass run.

Reads ``results.json`` files of ``edgecv eval track --inits 5`` (run 0 the groundtruth box, runs 1-4 the box
shifted by 10% of the target's width or height: ``eval/track.py`` ``INIT_PERTURBATIONS``) and writes one row per
tracker: pooled AUC and P@20 over all runs, over the plain run alone (OPE) and over the shifted runs alone, and for
each int8 row its paired difference to fp32 over every run. The shifted runs' figures come out of the pooled and the
plain ones exactly (both are means over scored frames, and each run of a sequence scores the same frames).

    python bench/sre_table.py out/sre-a/results.json out/sre-b/results.json --area tracking-dev-sre
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_result  # noqa: E402

from edgecv.eval.track import precision_deltas  # noqa: E402

COLUMNS = ["tracker", "runs", "AUC (all runs)", "P@20 (all)", "AUC OPE", "AUC shifted", "shifted − OPE",
           "P@20 OPE", "P@20 shifted", "int8 − fp32 over all runs, pt [95%]", "drift runs"]


def shifted(res: dict) -> tuple[float, float, int]:
    """(AUC, P@20, runs) over the shifted starts alone: the pooled figures with the plain run taken out."""
    seqs = res["sequences"].values()
    inits = {len(s["auc_per_init"]) for s in seqs}
    if len(inits) != 1 or inits == {1}:
        raise SystemExit("sre_table: every sequence needs the same number (> 1) of starts")
    k = inits.pop()
    n_all = sum(s["scored_frames"] for s in seqs)
    n_ope = n_all / k
    out = [(res["overall"][m] * n_all - res["ope"][m] * n_ope) / (n_all - n_ope) for m in ("auc", "precision20")]
    return out[0], out[1], k * len(res["sequences"])


def rows_of(results: list[dict]) -> list[list]:
    rows = []
    for doc in results:
        deltas = precision_deltas(doc)  # every int8 (fp16) row against its fp32 row, over all runs
        for name, res in doc["trackers"].items():
            auc_s, p_s, runs = shifted(res)
            d = deltas.get(name)
            delta = (f"{100 * d['delta']:+.1f} [{100 * d['ci95'][0]:+.1f}, {100 * d['ci95'][1]:+.1f}]"
                     .replace("-", "−") if d else "")
            rows.append([name, runs, round(res["overall"]["auc"], 3), round(res["overall"]["precision20"], 3),
                         round(res["ope"]["auc"], 3), round(auc_s, 3), f"{auc_s - res['ope']['auc']:+.3f}"
                         .replace("-", "−"), round(res["ope"]["precision20"], 3), round(p_s, 3), delta,
                         d["drifts"] if d else ""])
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="+", help="results.json files of `edgecv eval track --inits K` (K > 1)")
    ap.add_argument("--area", default=None, help="write bench/results/AREA.json for BENCHMARKS.md")
    ap.add_argument("--command", default=None, help="the eval commands, for the table's record")
    a = ap.parse_args()
    docs = [json.loads(Path(p).read_text()) for p in a.results]
    rows = rows_of(docs)
    print(" | ".join(COLUMNS))
    for r in rows:
        print(" | ".join(str(c) for c in r))
    if a.area:
        cmd = "python " + " ".join(["bench/sre_table.py", *sys.argv[1:]])
        notes = [f"Protocol: {docs[0]['protocol']['mode']}; init shifts {docs[0]['protocol']['init_perturbations'][1:]}"
                 " (fractions of the target's width, height; scale)."]
        write_result(a.area, machine(), a.command or cmd, COLUMNS, rows, notes,
                     title="Tracking on the dev set from imprecise starts (OTB SRE: init box shifted by 10%)")


if __name__ == "__main__":
    main()

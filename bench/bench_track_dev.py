"""Every tracker on the dev set in one run: ours in onnxruntime fp32 and int8, MOSSE / KLT / TrackerMIL, and the
NanoTrack V2/V3 references (OpenCV) when ``../shared/anchors`` is there. Exports missing artifacts from the
shipped weights first. Writes the eval output (results.json, success.png, precision.png, boxes) to ``--out``,
copies the two plots to ``docs/figures/``, and the table to ``bench/results/tracking-dev.json``.

    python bench/bench_track_dev.py --threads 1
"""
from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, command, machine, write_result  # noqa: E402

from edgecv.runtime.track import make_tracker  # noqa: E402
from edgecv.runtime.track.factory import missing_artifacts  # noqa: E402
from edgecv.runtime.track.registry import get_variant, tracker_names  # noqa: E402


def _export_missing(names, precisions, art_dir):
    from edgecv.export import export

    for name in names:
        for precision in precisions:
            if missing_artifacts(name, art_dir, "ort", precision):
                export(get_variant(name).model, "onnx", precision, out_dir=art_dir)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default=str(REPO / "datasets/otb-dev"))
    ap.add_argument("--trackers", default=",".join(tracker_names(siamese=True)))
    ap.add_argument("--precisions", default="fp32,int8")
    ap.add_argument("--artifacts", default="artifacts")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--inits", type=int, default=1)
    ap.add_argument("--out", default="out/bench-track-dev")
    ap.add_argument("--no-write", action="store_true", help="do not write bench/results/tracking-dev.json")
    ap.add_argument("--accuracy", action="store_true",
                    help="also write the run's AUCs as the track block of devices/accuracy.json (what `edgecv plan` "
                         "maximises)")
    a = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))

    from edgecv.eval.anchors import AnchorError, find_nanotrack, nanotrack_factories
    from edgecv.eval.track import evaluate

    ours = [t for t in a.trackers.split(",") if t]
    precisions = [p for p in a.precisions.split(",") if p]
    _export_missing(ours, precisions, a.artifacts)
    factories = {f"{n}/{p}": functools.partial(make_tracker, n, a.artifacts, "ort", p, a.threads)
                 for n in ours for p in precisions}
    for b in tracker_names(siamese=False):
        factories[b] = functools.partial(make_tracker, b)
    try:
        refs = find_nanotrack()
        factories.update(nanotrack_factories(refs, a.threads))
        references = {n: m.info() for n, m in refs.items()}
    except AnchorError as e:
        print(f"[anchors] skipped: {e}")
        references = {}
    res = evaluate(factories, a.dataset, a.out, progress=True, inits=a.inits, references=references)
    if a.no_write:   # a trial run: the committed plots and table stay as they are
        return
    figs = REPO / "docs" / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    for plot in ("success.png", "precision.png"):
        if (Path(a.out) / plot).is_file():
            shutil.copyfile(Path(a.out) / plot, figs / f"tracking-dev-{plot}")

    trk = res["trackers"]

    def cell(key, field, digits=3):
        if key not in trk:
            return ""
        v = trk[key]["overall"][field]
        return round(float(v), digits)

    def ms(key):
        return round(1000.0 / trk[key]["overall"]["fps"], 2) if key in trk and trk[key]["overall"]["fps"] else ""

    rows = []
    for n in ours:
        f32, i8 = f"{n}/fp32", f"{n}/int8"
        rows.append([n, cell(f32, "auc"), cell(i8, "auc"), cell(f32, "precision20"), cell(i8, "precision20"),
                     ms(f32), ms(i8)])
    for b in list(tracker_names(siamese=False)) + list(references):
        label = f"{b} (ref, OpenCV DNN)" if b in references else b
        rows.append([label, cell(b, "auc"), "", cell(b, "precision20"), "", ms(b), ""])
    seqs = res["sequences"]
    frames = sum(s["frames"] for s in seqs.values())
    write_result(
        "tracking-dev", machine() + f"; {a.threads} inference thread(s)", command(),
        ["tracker", "AUC fp32", "AUC int8", "P@20 fp32", "P@20 int8", "ms/frame fp32", "ms/frame int8"], rows,
        [f"`{os.path.relpath(a.dataset, REPO)}`: {len(seqs)} real sequences, {frames} frames "
         f"({', '.join(seqs)}); OTB one-pass evaluation, {a.inits} start(s) per sequence; AUC and precision at "
         "20 px pooled over every scored frame.",
         "ms/frame: mean of `update()` over every tracked frame (crop + graphs + post-processing; decoding not "
         "timed), all trackers in this one run on this machine, one after another.",
         "Plots: `docs/figures/tracking-dev-success.png`, `docs/figures/tracking-dev-precision.png`.",
         "NanoTrack rows: the public V2/V3 models (Apache-2.0) from `../shared/anchors`, run by OpenCV's "
         "TrackerNano (V3 through the numpy port of it, `eval/anchors.py`), OpenCV's DNN with the same thread "
         "count; not onnxruntime."],
        title="Tracking accuracy on the dev set (onnxruntime)")
    print(json.dumps({r[0]: r[1:] for r in rows}, indent=1))
    if a.accuracy:
        write_accuracy(trk, ours, precisions, len(seqs), a.inits, os.path.relpath(a.dataset, REPO))


def write_accuracy(trk: dict, ours, precisions, n_seq: int, inits: int, dataset: str) -> None:
    """Replace the track block of ``devices/accuracy.json`` by this run's pooled AUCs (onnxruntime rows; other
    backends fall back to them with a note in the plan). The old block's figures came from another dev set,
    so none is kept."""
    from edgecv.runtime.outputs import write_json_atomic

    path = REPO / "devices" / "accuracy.json"
    table = json.loads(path.read_text())
    old = table["track"]
    entries = [{"tracker": n, "backend": "ort", "precision": p,
                "value": round(float(trk[f"{n}/{p}"]["overall"]["auc"]), 3)}
               for n in ours for p in precisions if f"{n}/{p}" in trk]
    date = datetime.date.today().isoformat()
    table["track"] = {"metric": old["metric"], "higher_is_better": True,
                      "source": f"BENCHMARKS.md, 'Tracking accuracy on the dev set (onnxruntime)' ({date}, "
                                f"bench/bench_track_dev.py); {dataset}, {n_seq} real sequences x {inits} start(s), "
                                "pooled success AUC; other backends: the ORT figure (their graphs agree to ~1e-6 in "
                                "fp32)",
                      "tie": old.get("tie", 0.002), "entries": entries}
    write_json_atomic(path, table, indent=1)
    print(f"accuracy → {path} (track: {len(entries)} entries)")


if __name__ == "__main__":
    main()

"""NanoTrack V2/V3 (models edgecv did not train) through edgecv's runtime beside OpenCV running the same files.

Converts each public model in ``../shared/anchors/nanotrack/`` (``edgecv export nanotrack --model DIR``) to ONNX
and TFLite, fp32 and int8 (calibrated on real training-split frames; a graph that misses its parity threshold is
not written and the runtime falls back to the fp32 template, as for edgecv's trackers), then runs the dev set:
``nanotrack`` through onnxruntime and LiteRT at each precision, and the OpenCV reference rows, in one run.
Writes ``bench/results/nanotrack-runtime.json``.

    python bench/bench_nanotrack.py --threads 1
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, command, dev_set_args, machine, write_result  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--versions", default="v2,v3")
    a = dev_set_args(ap, artifacts="out/nanotrack-artifacts", out="out/bench-nanotrack")

    from edgecv.eval.anchors import anchors_dir, find_nanotrack, nanotrack_factories
    from edgecv.eval.track import evaluate
    from edgecv.export import export
    from edgecv.export.errors import ExportError
    from edgecv.export.nanotrack import NanoTrackImport
    from edgecv.runtime import read_manifest
    from edgecv.runtime.track import make_tracker
    from edgecv.runtime.track.siamese_base import find_artifacts

    versions = [v for v in a.versions.split(",") if v]
    refs = find_nanotrack()
    combos = [("ort", "fp32"), ("ort", "int8"), ("litert", "fp32"), ("litert", "int8")]
    factories, parity, failed, conv_errors = {}, {}, {}, []
    for v in versions:
        src = anchors_dir() / "nanotrack" / v
        folder = Path(a.artifacts) / f"nanotrack-{v}"
        for backend, prec in combos:
            fmt = "onnx" if backend == "ort" else "tflite"
            try:
                find_artifacts(folder, "nanotrack", fmt, prec)
            except FileNotFoundError:
                try:
                    export(NanoTrackImport(src), fmt, prec, out_dir=folder, progress=print)
                except ExportError as e:  # a part that misses parity: the runtime's fp32 fallback covers the template
                    print(f"[bench] {v} {fmt} {prec}: {e}")
                    conv_errors.append(f"{v} {fmt} {prec}: {str(e).split('; written')[0]}")
            for p in sorted(folder.glob(f"nanotrack-*{prec}*.{fmt if fmt == 'tflite' else 'onnx'}")):
                m = read_manifest(p)
                parity[f"{v}/{p.name}"] = m["parity"].get("max_rel_err") if prec == "fp32" else m["parity"].get("value")
            try:
                find_artifacts(folder, "nanotrack", fmt, prec)
            except FileNotFoundError as e:
                failed[f"nanotrack-{v}/{backend}/{prec}"] = str(e).split(";")[0]
                continue
            factories[f"nanotrack-{v}/{backend}/{prec}"] = functools.partial(make_tracker, "nanotrack", folder,
                                                                            backend, prec, a.threads)
    references = {n: m.info() for n, m in refs.items() if n.split("-")[-1] in versions}
    factories.update(nanotrack_factories({n: refs[n] for n in references}, a.threads))
    res = evaluate(factories, a.dataset, a.out, progress=True, references=references)
    if a.no_write:
        return
    trk = res["trackers"]

    def row(key, label, runner):
        o = trk[key]["overall"]
        return [label, runner, round(float(o["auc"]), 3), round(float(o["precision20"]), 3),
                round(1000.0 / o["fps"], 2) if o["fps"] else ""]

    rows = []
    for v in versions:
        ref = f"nanotrack-{v}"
        base = row(ref, ref, "OpenCV DNN (" + refs[ref].runner + ")")
        rows.append(base + [""])
        for backend, prec in combos:
            key = f"nanotrack-{v}/{backend}/{prec}"
            if key not in trk:
                rows.append([ref, f"edgecv runtime, {'onnxruntime' if backend == 'ort' else 'LiteRT'} {prec}",
                             "", "", "", "not converted (see notes)"])
                continue
            r = row(key, ref, f"edgecv runtime, {'onnxruntime' if backend == 'ort' else 'LiteRT'} {prec}")
            rows.append(r + [round(100 * (r[2] - base[2]), 1)])
    seqs = res["sequences"]
    write_result(
        "nanotrack-runtime", machine() + f"; {a.threads} inference thread(s)", command(),
        ["model", "runner", "AUC", "P@20", "ms/frame", "ΔAUC vs OpenCV (pt)"], rows,
        [f"`{os.path.relpath(a.dataset, REPO)}`: {len(seqs)} real sequences, "
         f"{sum(s['frames'] for s in seqs.values())} frames, one start each; all rows in this one run.",
         "edgecv rows: the public NanoTrack files converted by `edgecv export nanotrack --model DIR` (ONNX→PyTorch by "
         "edgecv.export.onnx_import, then edgecv's exporters; int8 calibrated on training-split frames) and run by "
         "the runtime's `nanotrack` family (NanoTrack's crop convention, OpenCV's constants, edgecv's lost state).",
         "A graph that misses its int8 parity threshold is not written; the runtime then runs the fp32 template "
         "(once per target) beside the int8 search graph. Parity per artifact: " +
         ", ".join(f"{k} {v:.3g}" for k, v in sorted(parity.items()) if v is not None) + ".",
         *([f"Not converted: {k} ({why})." for k, why in failed.items()] + conv_errors),
         "ms/frame: mean of update() (crop + graphs + post-processing). OpenCV rows: cv2.TrackerNano (V2) or its "
         "numpy port over cv2.dnn (V3, whose 15×15 map TrackerNano cannot read)."],
        title="NanoTrack through edgecv's runtime vs OpenCV")
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

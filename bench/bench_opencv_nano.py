"""An edgecv tracker inside OpenCV: BoxTrack exported as a ``cv2.TrackerNano`` pair (``--format opencv-nano``)
beside BoxTrack in edgecv's own loop and NanoTrack V2 in ``cv2.TrackerNano``, one run on the dev set.

What the user gets by dropping our pair into OpenCV (OpenCV's post-processing, a fixed square template mask),
against what edgecv's runtime gives with the same weights. Writes ``bench/results/opencv-nano.json``.

    python bench/bench_opencv_nano.py --threads 1
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
    ap.add_argument("--model", default="boxtrack")
    a = dev_set_args(ap, artifacts="artifacts", out="out/bench-opencv-nano")

    from edgecv.eval.anchors import AnchorError, NanoTrackModel, NanoTrackTracker, find_nanotrack
    from edgecv.eval.track import evaluate
    from edgecv.export import export
    from edgecv.export.opencv_nano import export_opencv_nano
    from edgecv.runtime.track import make_tracker
    from edgecv.runtime.track.factory import missing_artifacts
    from edgecv.runtime.track.registry import get_variant

    pair = Path(a.artifacts) / f"{a.model}-opencv-nano"
    if not (pair / "manifest.json").is_file():
        export_opencv_nano(a.model, a.artifacts)
    if missing_artifacts(a.model, a.artifacts, "ort", "fp32"):
        export(get_variant(a.model).model, "onnx", "fp32", out_dir=a.artifacts)
    inside = f"{a.model} in cv2.TrackerNano"
    ours = NanoTrackModel(inside, "", "cv2.TrackerNano", pair / "backbone.onnx", pair / "head.onnx",
                          source=f"edgecv {a.model}, --format opencv-nano")
    factories = {inside: functools.partial(NanoTrackTracker, ours, a.threads),
                 f"{a.model}/fp32 (edgecv loop)": functools.partial(make_tracker, a.model, a.artifacts, "ort", "fp32",
                                                                    a.threads)}
    references = {}
    try:
        v2 = find_nanotrack(names=["nanotrack-v2"])["nanotrack-v2"]
        factories[v2.name] = functools.partial(NanoTrackTracker, v2, a.threads)
        references[v2.name] = v2.info()
    except AnchorError as e:
        print(f"[anchors] skipped: {e}")
    res = evaluate(factories, a.dataset, a.out, progress=True, references=references)
    if a.no_write:
        return
    trk = res["trackers"]
    rows = []
    for name in factories:
        o = trk[name]["overall"]
        rows.append([name + (" (ref)" if name in references else ""), round(float(o["auc"]), 3),
                     round(float(o["precision20"]), 3), round(1000.0 / o["fps"], 2) if o["fps"] else ""])
    seqs = res["sequences"]
    per_seq = {name: {s: round(float(v["auc"]), 3) for s, v in trk[name]["sequences"].items()} for name in factories}
    write_result(
        "opencv-nano", machine() + f"; {a.threads} thread(s)", command(),
        ["tracker", "AUC", "P@20", "ms/frame"], rows,
        [f"`{os.path.relpath(a.dataset, REPO)}`: {len(seqs)} real sequences, "
         f"{sum(s['frames'] for s in seqs.values())} frames; OTB one-pass, pooled over every scored frame.",
         f"`{inside}`: `edgecv export {a.model} --format opencv-nano` run unchanged by OpenCV "
         f"{__import__('cv2').__version__}'s `cv2.TrackerNano` (OpenCV DNN, its own crops and post-processing; "
         "the head's template mask is fixed to a square target, since OpenCV's head inputs carry no box).",
         "The edgecv-loop row runs the same weights through onnxruntime with edgecv's post-processing "
         "(box-aware template mask, online correlation filter, template update, lost state).",
         "Per-sequence AUC: " + json.dumps(per_seq)],
        title="An edgecv tracker inside OpenCV (cv2.TrackerNano)")
    print(json.dumps({r[0]: r[1:] for r in rows}, indent=1))


if __name__ == "__main__":
    main()

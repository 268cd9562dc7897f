"""int8 vs fp32 of the trained backbones, same run: onnxruntime CPU (QDQ) and LiteRT (PT2E).

Goal from the spine issue: int8 ≥ 1.7× faster than fp32 for the backbone on onnxruntime CPU.
Artifacts come from `edgecv.export.export` (so each one passed its parity / int8 agreement check).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command, interleaved, machine, md_rows, write_result  # noqa: E402

from edgecv import runtime  # noqa: E402
from edgecv.export import export  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--models", default="mnv2-dcn")
    ap.add_argument("--sizes", default="128,256", help="input sizes (the net is fully convolutional)")
    ap.add_argument("--no-append", action="store_true", help="do not write bench/results/int8.json")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    from edgecv.models import create_model

    lines = ["| model | input | backend | threads | fp32 ms | int8 ms | speed-up int8 vs fp32 | "
             "int8 top-1 agreement |", "|---|---|---|---|---|---|---|---|"]
    jobs = [(m, int(s)) for m in a.models.split(",") for s in a.sizes.split(",")]
    for model, size in jobs:
        with tempfile.TemporaryDirectory() as tmp:
            net = create_model(model, input_size=size)
            net.model_name = model

            def ex(fmt, prec, ops=None, net=net, tmp=tmp):
                # keep int8 artifacts that miss the agreement threshold: the table reports the figure
                return export(net, fmt, prec, ops, out_dir=tmp, progress=None, keep_failed=True)
            pairs = {"ort": (ex("onnx", "fp32", "standard"), ex("onnx", "int8", "standard")),
                     "litert": (ex("tflite", "fp32"), ex("tflite", "int8"))}
            for backend, (f32, i8) in pairs.items():
                parity = json.loads(Path(str(i8) + ".json").read_text())["parity"]
                agree = f"{parity['value']:.3f}" + ("" if parity["passed"] else " (below threshold)")
                for threads in (1, 2):
                    # no spinning: two ORT sessions take turns on 2 cores here
                    s = {"fp32": runtime.load(f32, threads=threads, spin=False),
                         "int8": runtime.load(i8, threads=threads, spin=False)}
                    x = rng.random(tuple(s["fp32"].inputs[0].shape), dtype=np.float32)
                    feeds = {k: {v.input_names[0]: x} for k, v in s.items()}
                    t = interleaved(s, feeds, runs=a.runs)
                    ratio = t["fp32"]["median"] / t["int8"]["median"]
                    lines.append(f"| {model} | {size}x{size} | {backend} | {threads} | {t['fp32']['median']:.3f} | "
                                 f"{t['int8']['median']:.3f} | {ratio:.2f}× | {agree} |")
                    print(lines[-1], flush=True)
    note = (f"Medians of {a.runs} interleaved runs after 5 warm-up runs; sessions without spinning worker threads "
            "(`spin=False`: two spinning ORT sessions fight over the 2 cores).")
    print(note + "\n\n" + "\n".join(lines))
    if not a.no_append:
        write_result("int8", machine(), command(), *md_rows(lines), [note])


if __name__ == "__main__":
    main()

"""Portable vs standard custom ops, same run, medians of interleaved runs after warm-up.

1. portable DCN (gather + matmul) vs ONNX DeformConv, both on onnxruntime (goal ≤ 1.5×);
2. portable warp / portable DCN on LiteRT vs the native op on onnxruntime (goal ≤ 3×);
   for reference, litert-torch's own decomposition of grid_sample (the default path).
Layers have random weights and offsets of ~1 px std (timing does not depend on training).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command, interleaved, machine, md_rows, write_result  # noqa: E402

from edgecv import runtime  # noqa: E402
from edgecv.export import onnx_backend, tflite_backend  # noqa: E402
from edgecv.ops import DeformConv2d, FlowWarp  # noqa: E402


class DCNLayer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dcn = DeformConv2d(c, c, 3, padding=1)
        torch.nn.init.normal_(self.dcn.offset_conv.weight, std=0.02)
        torch.nn.init.normal_(self.dcn.offset_conv.bias, std=1.0)

    def forward(self, x):
        return self.dcn(x)


class WarpLayer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.warp = FlowWarp("zeros")

    def forward(self, x, flow):
        return self.warp(x, flow)


class GridSampleLayer(torch.nn.Module):
    """Plain F.grid_sample, converted by litert-torch's own decomposition (the default path)."""

    def forward(self, x, flow):
        from edgecv.ops.warp import flow_warp_grid_sample
        return flow_warp_grid_sample(x, flow)


def build(tmp: Path, name, model, args, names):
    model.eval()
    out = {}
    for ops in ("standard", "portable"):
        p = tmp / f"{name}-{ops}.onnx"
        onnx_backend.torch_to_onnx(model, args, names, ["y"], ops, p)
        out[f"ort-{ops}"] = p
    p = tmp / f"{name}.tflite"
    tflite_backend.torch_to_tflite(model, args, p)
    out["litert-portable"] = p
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-append", action="store_true", help="do not write bench/results/ops.json")
    a = ap.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        tmp = Path(tmp)
        cases = [("dcn c64 32x32", DCNLayer(64), (1, 64, 32, 32)), ("dcn c160 16x16", DCNLayer(160), (1, 160, 16, 16)),
                 ("dcn c256 32x32", DCNLayer(256), (1, 256, 32, 32)),
                 ("warp c160 32x32", WarpLayer(), (1, 160, 32, 32)), ("warp c256 64x64", WarpLayer(), (1, 256, 64, 64))]
        for label, model, shape in cases:
            x = torch.from_numpy(rng.standard_normal(shape).astype(np.float32))
            if isinstance(model, WarpLayer):
                flow = torch.from_numpy((rng.standard_normal((1, 2, *shape[2:])) * 3).astype(np.float32))
                args, names = (x, flow), ["x", "flow"]
            else:
                args, names = (x,), ["x"]
            paths = build(tmp, label.replace(" ", "_"), model, args, names)
            if isinstance(model, WarpLayer):
                p = tmp / f"{label.replace(' ', '_')}-gridsample-default.tflite"
                tflite_backend.litert_default_convert(GridSampleLayer().eval(), args, p)
                paths["litert-default-gridsample"] = p
            sessions = {k: runtime.load(p, threads=a.threads, spin=False) for k, p in paths.items()}
            feeds = {k: dict(zip(s.input_names, [t.numpy() for t in args])) for k, s in sessions.items()}
            ref = model(*args).numpy()
            errs = {k: float(np.abs(s.run(feeds[k])[s.output_names[0]] - ref).max() / np.abs(ref).max())
                    for k, s in sessions.items()}
            t = interleaved(sessions, feeds, runs=a.runs)
            std = t["ort-standard"]["median"]
            row = {"case": label, **{k: v["median"] for k, v in t.items()}, "errs": errs}
            row["portable/standard (ort)"] = t["ort-portable"]["median"] / std
            row["litert portable/ort standard"] = t["litert-portable"]["median"] / std
            if "litert-default-gridsample" in t:
                row["litert default/ort standard"] = t["litert-default-gridsample"]["median"] / std
            rows.append(row)
            print(row, flush=True)
    lines = ["| case | ORT standard ms | ORT portable ms | LiteRT portable ms | LiteRT default grid_sample ms | "
             "portable/standard on ORT (goal ≤1.5×) | LiteRT portable / ORT standard (goal ≤3×) | "
             "LiteRT default / ORT standard | max rel err vs torch |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        d = r.get("litert-default-gridsample")
        lines.append(f"| {r['case']} | {r['ort-standard']:.3f} | {r['ort-portable']:.3f} | "
                     f"{r['litert-portable']:.3f} | "
                     f"{'%.3f' % d if d else '—'} | {r['portable/standard (ort)']:.2f}× | "
                     f"{r['litert portable/ort standard']:.2f}× | "
                     f"{'%.2f×' % r['litert default/ort standard'] if d else '—'} | {max(r['errs'].values()):.1e} |")
    note = (f"Medians of {a.runs} interleaved runs after 5 warm-up runs, {a.threads} thread(s). "
            "Standard = ONNX `DeformConv`/`GridSample` on onnxruntime; portable = edgecv's gather+matmul "
            "decomposition.")
    print(note + "\n\n" + "\n".join(lines))
    if not a.no_append:
        write_result("ops", machine(), command(), *md_rows(lines), [note])


if __name__ == "__main__":
    main()

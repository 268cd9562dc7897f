"""Models edgecv did not write, through edgecv's exporters, beside what the other tools do with them (one run).

A: an ONNX file built with ``onnx.helper`` holding ``DeformConv`` (DCNv2) and ``GridSample`` (``tests/interop.py``),
   256² input: onnxruntime on the original, and edgecv's re-exports (``edgecv export model.onnx``): standard ONNX,
   portable ONNX (neither op left), TFLite; and onnx2tf, the usual ONNX→TFLite path, on the original file and on
   edgecv's portable ONNX. onnx2tf needs TensorFlow, which the project does not install: ``--onnx2tf EXE`` points
   at an onnx2tf from another environment (e.g. ``python -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install
   tensorflow-cpu onnx2tf onnx-graphsurgeon sng4onnx psutil onnxsim tf-keras ai-edge-litert``); without it the
   rows say so.
B: a user's plain PyTorch module calling ``F.grid_sample`` (``tests/interop.py``), 256² input: PyTorch, edgecv's
   ``--module`` exports (standard ONNX, portable ONNX, TFLite), and litert-torch converting the unmodified module
   itself (its own grid_sample lowering), and onnx2tf on edgecv's standard ONNX (its own GridSample lowering).

Error: max |out − reference| / max |reference| on 6 held-out real frames (reference: onnxruntime on the original
file for A, PyTorch for B). ms: median of 40 interleaved runs, one thread. Writes ``bench/results/interop.json``.

    python bench/bench_interop.py --onnx2tf /tmp/tfenv/bin/onnx2tf
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import command, interleaved, machine, write_result  # noqa: E402


class _Torch:
    """A torch module behind the sessions' ``run(feeds)``."""

    def __init__(self, module):
        self.module = module

    def run(self, feeds):
        import torch

        with torch.no_grad():
            out = self.module(*[torch.from_numpy(v) for v in feeds.values()])
        return {"y": out.numpy()}


def _frames_as(frames, size):
    import cv2

    return [np.ascontiguousarray(cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA)[..., ::-1]
                                 .transpose(2, 0, 1)[None], dtype=np.float32) / 255.0 for f in frames]


def _err(sess, name, xs, refs):
    worst = 0.0
    for x, r in zip(xs, refs):
        got = next(iter(sess.run({name: x}).values())).reshape(r.shape)
        worst = max(worst, float(np.abs(got - r).max() / (np.abs(r).max() or 1.0)))
    return worst


class _Nhwc:
    """A TFLite model from onnx2tf (NHWC in and out) behind the NCHW feeds and outputs of the other rows."""

    def __init__(self, sess, nchw: tuple):
        self.sess, self.path, self.nchw = sess, sess.path, tuple(nchw)
        self.input_names = sess.input_names

    def run(self, feeds):
        if len(feeds) == 1 and len(self.input_names) == 1:  # onnx2tf may rename the one input
            feeds = {self.input_names[0]: next(iter(feeds.values()))}
        out = self.sess.run({k: np.ascontiguousarray(v.transpose(0, 2, 3, 1)) for k, v in feeds.items()})
        # onnx2tf keeps some outputs in the ONNX layout (NCHW) and turns others NHWC: read it from the shape
        return {k: (v.transpose(0, 3, 1, 2) if v.ndim == 4 and tuple(v.shape) != self.nchw else v)
                for k, v in out.items()}


def _onnx2tf(exe, src: Path, out_dir: Path):
    """onnx2tf on ``src`` → (session, "") or (None, why it did not convert or run). The session takes and gives
    NCHW like ``src``."""
    from edgecv.runtime import load

    if not exe:
        return None, "not run: needs TensorFlow (pass --onnx2tf EXE)"
    # onnx2tf's test inputs for image-like models: 20 RGB 128² float frames it otherwise fetches from GitHub
    # (no such access here); real held-out frames in the file name it looks for in its working folder
    out_dir.mkdir(parents=True, exist_ok=True)
    sample = out_dir / "calibration_image_sample_data_20x128x128x3_float32.npy"
    if not sample.is_file():
        import cv2

        from edgecv import data

        frames = (data.check_frames(9, photos=False) + [im for im in data.check_frames(0)])[:20]
        np.save(sample, np.stack([cv2.resize(f, (128, 128), interpolation=cv2.INTER_AREA)[..., ::-1]
                                  for f in frames]).astype(np.float32) / 255.0)
    try:
        r = subprocess.run([exe, "-i", str(Path(src).resolve()), "-o", str(out_dir.resolve()), "-n"],
                           capture_output=True, text=True, timeout=1800, cwd=out_dir)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"failed to start: {e}"
    made = sorted(out_dir.glob("*_float32.tflite"))
    if r.returncode != 0 or not made:
        lines = [ln.strip() for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
        err = next((ln for ln in reversed(lines) if "Error" in ln or "error" in ln), lines[-1] if lines else "?")
        return None, f"conversion failed: {err[:160]}"
    try:
        import onnx

        dims = onnx.load(str(src)).graph.output[0].type.tensor_type.shape.dim
        return _Nhwc(load(made[0], "litert", threads=1, verify=False), [d.dim_value for d in dims]), ""
    except Exception as e:  # a model that converts but does not run is a finding too
        return None, f"converted, does not run: {str(e).splitlines()[0][:160]}"


def _onnx2tf_version(exe) -> str:
    if not exe:
        return ""
    py = Path(exe).with_name("python")
    r = subprocess.run([str(py), "-c", "import onnx2tf, tensorflow as tf; print(onnx2tf.__version__, tf.__version__)"],
                       capture_output=True, text=True)
    v = r.stdout.split()
    return f"onnx2tf {v[0]} / TensorFlow {v[1]}" if len(v) == 2 else "onnx2tf (version unknown)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx2tf", default=None, help="an onnx2tf executable (from an environment with TensorFlow)")
    a = ap.parse_args()
    import onnx
    import torch

    from edgecv import data
    from edgecv.export import export
    from edgecv.export.tflite_backend import _import as litert
    from edgecv.runtime import load
    from tests.interop import USER_CODE, dcn_grid_graph

    torch.set_num_threads(1)
    frames = data.check_frames(6, photos=False)
    xs = _frames_as(frames, 256)
    work = Path(tempfile.mkdtemp(prefix="edgecv-interop-"))
    rows = []

    # A: the ONNX file with DeformConv + GridSample
    src = dcn_grid_graph(work / "dcn_grid.onnx", size=256)
    orig = load(src, "ort", threads=1)
    refs = [orig.run({"x": x})["y"] for x in xs]
    sessions = {"onnxruntime, original file": orig}
    for fmt, ops in (("onnx", "standard"), ("onnx", "portable"), ("tflite", "portable")):
        art = export(str(src), fmt, "fp32", ops, out_dir=work / "a", progress=None)
        sessions[f"edgecv {fmt} {ops}"] = load(art, threads=1)
        if (fmt, ops) == ("onnx", "portable"):
            portable_a = art
    failed_a = []
    for name, path in (("onnx2tf on the original file", src), ("onnx2tf on edgecv's portable ONNX", portable_a)):
        sess, why = _onnx2tf(a.onnx2tf, path, work / "o2tf" / name.split()[-2])
        if sess is None:
            failed_a.append([name, why])
        else:
            sessions[name] = sess
    ms = interleaved(sessions, {k: {"x": xs[0]} for k in sessions})
    for name, sess in sessions.items():
        custom = sorted({n.op_type for n in onnx.load(sess.path).graph.node} & {"DeformConv", "GridSample"}) \
            if sess.path.endswith(".onnx") else []
        rows.append(["A: DeformConv+GridSample ONNX", name, ", ".join(custom) or "none",
                     round(ms[name]["median"], 2), f"{_err(sess, 'x', xs, refs):.1e}"])
    for name, why in failed_a:
        rows.append(["A: DeformConv+GridSample ONNX", name, "", "", why])

    # B: the user's module with F.grid_sample
    pkg = work / "userpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(textwrap.dedent(USER_CODE))
    sys.path.insert(0, str(work))
    from userpkg.nets import build

    from edgecv.export.user_module import UserModule

    module = build().eval()
    sessions = {"PyTorch (reference)": _Torch(module)}
    wrapped = UserModule(module, [("image", (1, 3, 256, 256))], "build", "userpkg.nets:build")
    for fmt, ops in (("onnx", "standard"), ("onnx", "portable"), ("tflite", "portable")):
        art = export(wrapped, fmt, "fp32", ops, out_dir=work / "b", progress=None)
        sessions[f"edgecv --module {fmt} {ops}"] = load(art, threads=1)
        if (fmt, ops) == ("onnx", "standard"):
            standard_b = art
    failed_b = []
    sess, why = _onnx2tf(a.onnx2tf, standard_b, work / "o2tf" / "b")
    if sess is None:
        failed_b.append(["onnx2tf on edgecv's standard ONNX (GridSample)", why])
    else:
        sessions["onnx2tf on edgecv's standard ONNX (GridSample)"] = sess
    direct = work / "b" / "litert-torch-direct.tflite"
    litert().convert(build().eval(), (torch.zeros(1, 3, 256, 256),)).export(str(direct))
    sessions["litert-torch on the module as it is"] = load(direct, "litert", threads=1)
    refs = [sessions["PyTorch (reference)"].run({"image": x})["y"] for x in xs]
    feeds = {k: {(s.input_names[0] if hasattr(s, "input_names") else "image"): xs[0]} for k, s in sessions.items()}
    ms = interleaved(sessions, feeds)
    for name, sess in sessions.items():
        iname = sess.input_names[0] if hasattr(sess, "input_names") else "image"
        custom = sorted({n.op_type for n in onnx.load(sess.path).graph.node} & {"GridSample"}) \
            if getattr(sess, "path", "").endswith(".onnx") else []
        err = "reference" if name.startswith("PyTorch") else f"{_err(sess, iname, xs, refs):.1e}"
        rows.append(["B: user module with F.grid_sample", name, ", ".join(custom) or "none",
                     round(ms[name]["median"], 2), err])
    for name, why in failed_b:
        rows.append(["B: user module with F.grid_sample", name, "", "", why])

    write_result(
        "interop", machine() + "; 1 thread", command(),
        ["model", "path", "DeformConv/GridSample in graph", "ms (median)", "max rel err"], rows,
        ["A: `tests/interop.py: dcn_grid_graph` at 256² (conv stride 2 → DCNv2 with a sigmoid mask → GridSample "
         "with a fixed rotate-and-zoom grid), written with onnx.helper; exported by `edgecv export model.onnx`.",
         "B: `tests/interop.py: USER_CODE` (an affine warp predicted from the image, F.grid_sample zeros/"
         "align_corners=False and border/align_corners=True), exported by `edgecv export --module` unmodified; "
         "litert-torch row: `litert_torch.convert` on the same module, no edgecv in the way.",
         "Error on 6 held-out real frames (vtest, Megamind, tree) against onnxruntime on the original (A) or "
         "PyTorch (B); ms: median of 40 runs interleaved across the rows, one thread, input of frame 1.",
         "onnx2tf rows: " + (f"{_onnx2tf_version(a.onnx2tf)} from a separate environment, "
                             "`onnx2tf -i FILE -o DIR -n`, its float32 .tflite run by the same LiteRT as the "
                             "other rows (NHWC in and out: the two transposes, ~0.1 ms, are inside its timing)"
                             if a.onnx2tf else "not run (no --onnx2tf)")],
        title="Interop: models edgecv did not write")
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()

"""An edgecv tracker as a backbone/head pair in OpenCV's ``TrackerNano`` contract (``--format opencv-nano``).

``cv2.TrackerNano`` (OpenCV ≥ 4.7) runs any pair of ONNX files that keeps NanoTrack's contract:

- *backbone*: one image input, RGB float 0..255 (``blobFromImage(crop, 1.0, swapRB=True)``), run on a 127²
  template crop and on a 255² search crop (the same file, so its shapes must follow the input);
- *head*: ``input1`` (template features) and ``input2`` (search features) → ``output1`` class logits
  1×2×16×16 (foreground = softmax channel 1) and ``output2`` distances 1×4×16×16 from cell ``k``'s pixel
  ``(k − 8)·16 + 127`` of the 255² crop to the box's left, top, right and bottom sides.

BoxTrack fits it without retraining. Its geometry is 129²/257² crops whose feature cell ``j`` sits on pixel
``16 j``; padding OpenCV's 127²/255² crops by one replicated pixel on each side (Slice + Concat, which every
runtime has) puts cell ``j`` on pixel ``16 j − 1`` of OpenCV's crop, which is exactly OpenCV's cell ``k = j``
for ``j < 16``: the head keeps cells 0..15 of its 17×17 map. The one-logit score becomes two logits
``(0, s)``, whose softmax is ``sigmoid(s)``, the score edgecv's own loop uses. The distances are in crop
pixels on both sides, so they pass unchanged.

What does not fit: BoxTrack weights its template features by the target's box (``template_mask``), and the
head OpenCV calls sees only features. The head here bakes in the mask of a square target (OpenCV's crop rule
puts a square box at 127/2 px), so in OpenCV the tracker starts from the right extent but not the right aspect
for elongated targets; ``bench/bench_opencv_nano.py`` measures what that costs on the dev set. OpenCV's own
post-processing also replaces edgecv's (no online filter, template update or lost state).
"""
from __future__ import annotations

import datetime as _dt
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .errors import ExportError

__all__ = ["FITS", "OpenCVNanoBackbone", "OpenCVNanoHead", "export_opencv_nano", "pair_parity", "square_mask"]

TEMPLATE, SEARCH, STRIDE, CELLS = 127, 255, 16, 16     # OpenCV's TrackerNano constants (tracker_nano.cpp)
FITS = ("boxtrack", "boxtrack-fast")                   # the families whose graphs fit the contract
SCHEMA = "edgecv.opencv-nano/1"
TOLERANCE = 1e-4                                        # fp32: max |err| / max |ref| per output


def _edge_pad1(x):
    """One replicated pixel on each side, as Slice + Concat (no Pad mode question for the runtime)."""
    x = torch.cat([x[..., :1], x, x[..., -1:]], dim=3)
    return torch.cat([x[..., :1, :], x, x[..., -1:, :]], dim=2)


class OpenCVNanoBackbone(nn.Module):
    """OpenCV's crop (RGB 0..255, 127² or 255²) → BoxTrack's features (96 × 9² or 17²)."""

    def __init__(self, model):
        super().__init__()
        self.trunk, self.neck = model.trunk, model.neck

    def forward(self, image):
        return self.neck(self.trunk(_edge_pad1(image * (1.0 / 255.0))))


class OpenCVNanoHead(nn.Module):
    """BoxTrack's correlation and head with a fixed template mask; cells 0..15 as (logits, ltrb)."""

    def __init__(self, model, mask: np.ndarray):
        super().__init__()
        self.corr, self.head = model.corr, model.head
        self.register_buffer("mask", torch.from_numpy(np.asarray(mask, np.float32))[None, None])

    def forward(self, input1, input2):
        cls, ltrb = self.head(self.corr(input2, input1 * self.mask), input2)
        cls, ltrb = cls[:, :, :CELLS, :CELLS], ltrb[:, :, :CELLS, :CELLS]
        return torch.cat([torch.zeros_like(cls), cls], 1), ltrb


def square_mask(model) -> np.ndarray:
    """The template mask of a square target as OpenCV crops it: side 127/2 px in the 127² crop (context 0.5:
    crop side √((w + p)(h + p)), p = (w + h)/2 = 2w)."""
    from edgecv.runtime.track.boxtrack import template_mask

    cells = (model.template_size - 1) // STRIDE + 1
    return template_mask(TEMPLATE / 2, TEMPLATE / 2, cells, STRIDE)


def _wrap(model):
    """The model's two graphs for OpenCV and an example input for each."""
    kind = getattr(model, "kind", type(model).__name__)
    if kind not in FITS:
        raise ExportError(f"--format opencv-nano: {kind} does not fit cv2.TrackerNano's contract (a stride-16 "
                          f"two-class score and left/top/right/bottom distances per cell); it fits "
                          f"{', '.join(FITS)}")
    model.eval()
    bb, hd = OpenCVNanoBackbone(model).eval(), OpenCVNanoHead(model, square_mask(model)).eval()
    with torch.no_grad():
        z = bb(torch.zeros(1, 3, TEMPLATE, TEMPLATE))
        x = bb(torch.zeros(1, 3, SEARCH, SEARCH))
    return bb, hd, z, x


def _export_graph(module, args, input_names, output_names, out_path: Path, dynamic_shapes=None):
    """torch.onnx (dynamo, opset 19) → onnxslim → checker, as the main exporter does."""
    import onnx

    from .errors import raise_if_interrupted
    from .onnx_backend import OPSET, _quiet, simplify

    with _quiet(), torch.no_grad():
        try:
            prog = torch.onnx.export(module, args, dynamo=True, opset_version=OPSET, input_names=input_names,
                                     output_names=output_names, dynamic_shapes=dynamic_shapes, optimize=True,
                                     verify=False, report=False)
        except Exception as e:
            raise_if_interrupted(e)
            raise ExportError(f"torch.onnx.export failed for {out_path.name}: "
                              f"{str(e).strip().splitlines()[0][:400]}") from None
    proto = simplify(prog.model_proto)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(out_path))


def _crops(frames):
    """OpenCV-style template/search crop pairs of real frames, RGB 0..255 NCHW."""
    from edgecv.models.siamese import _crops_from_frames

    return [(z * 255.0, x * 255.0) for z, x in _crops_from_frames(frames, x_size=SEARCH, z_size=TEMPLATE)]


def _reference(model, z_img, x_img):
    """The PyTorch model itself on the padded crops, the mask applied as edgecv's loop applies it; cells 0..15."""
    pad = lambda t: torch.nn.functional.pad(t / 255.0, (1, 1, 1, 1), mode="replicate")  # noqa: E731
    with torch.no_grad():
        (z,) = model.template(pad(z_img))
        z = z * torch.from_numpy(square_mask(model))
        cls, ltrb, _ = model.search(pad(x_img), z)
    s = torch.sigmoid(cls[0, 0, :CELLS, :CELLS]).numpy()
    return s, ltrb[0, :, :CELLS, :CELLS].numpy()


def pair_parity(model, backbone: Path, head: Path, frames, engines=("onnxruntime", "opencv")) -> dict:
    """Worst relative error (max |err| / max |ref|) of the pair's foreground probability and box distances
    against the PyTorch model on real crops, per engine (onnxruntime; OpenCV DNN, the engine TrackerNano uses)."""
    out = {}
    for engine in engines:
        run = _runner(engine, backbone, head)
        worst = {"score": 0.0, "ltrb": 0.0}
        for z_img, x_img in _crops(frames):
            ref = _reference(model, z_img, x_img)
            cls, ltrb = run(z_img.numpy(), x_img.numpy())
            e = np.exp(cls[0] - cls[0].max(0))
            got = (e[1] / e.sum(0), ltrb[0])
            for k, g, r in zip(worst, got, ref):
                worst[k] = max(worst[k], float(np.abs(g - r).max() / (np.abs(r).max() or 1.0)))
        out[engine] = {"max_rel_err": worst, "passed": max(worst.values()) <= TOLERANCE}
    return out


def _runner(engine: str, backbone: Path, head: Path):
    """``(template crop, search crop) → (output1, output2)`` through ``engine``, as TrackerNano calls it."""
    if engine == "onnxruntime":
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        bb, hd = (ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"]) for p in (backbone, head))
        name = bb.get_inputs()[0].name

        def run(z, x):
            zf, xf = bb.run(None, {name: z})[0], bb.run(None, {name: x})[0]
            return hd.run(["output1", "output2"], {"input1": zf, "input2": xf})
        return run
    import cv2

    bb, hd = cv2.dnn.readNet(str(backbone)), cv2.dnn.readNet(str(head))

    def run(z, x):
        feats = []
        for img in (z, x):
            bb.setInput(np.ascontiguousarray(img, np.float32))
            feats.append(bb.forward().copy())
        hd.setInput(feats[0], "input1")
        hd.setInput(feats[1], "input2")
        return [o.copy() for o in hd.forward(["output1", "output2"])]
    return run


def export_opencv_nano(model="boxtrack", out_dir="artifacts", n_check: int = 9, progress=print) -> Path:
    """Write ``<out_dir>/<model>-opencv-nano/{backbone,head}.onnx`` + ``manifest.json`` for cv2.TrackerNano.

    fp32 only (OpenCV DNN runs fp32 graphs). Checked against the PyTorch model on held-out real crops through
    onnxruntime and OpenCV DNN; a failed check writes nothing. Returns the folder.
    """
    from edgecv.runtime.manifest import seal_manifest, sha256_file
    from edgecv.runtime.outputs import write_json_atomic

    from .api import default_check_frames, resolve_model, tool_versions

    log = progress or (lambda *a, **k: None)
    module, name = resolve_model(model)
    bb, hd, z, x = _wrap(module)
    t0 = time.time()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{name}-opencv-nano"
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=out_dir))
    try:
        log(f"[export] {name} → opencv-nano (cv2.TrackerNano backbone + head, fp32)")
        h, w = torch.export.Dim("h", min=33, max=1025), torch.export.Dim("w", min=33, max=1025)
        _export_graph(bb, (torch.zeros(1, 3, SEARCH, SEARCH),), ["input"], ["output"], tmp / "backbone.onnx",
                      dynamic_shapes=({2: h, 3: w},))
        _export_graph(hd, (z, x), ["input1", "input2"], ["output1", "output2"], tmp / "head.onnx")
        frames, desc = default_check_frames(n_check)
        log(f"[export] checking against PyTorch on {desc} (onnxruntime and OpenCV DNN)")
        parity = pair_parity(module, tmp / "backbone.onnx", tmp / "head.onnx", frames)
        bad = [f"{eng} {max(p['max_rel_err'].values()):.2e}" for eng, p in parity.items() if not p["passed"]]
        if bad:
            raise ExportError(f"{final.name}: parity check failed ({', '.join(bad)}; tolerance {TOLERANCE:.0e}); "
                              "nothing was written")
        files = {p: {"file": f"{p}.onnx", "bytes": (tmp / f"{p}.onnx").stat().st_size,
                     "sha256": sha256_file(tmp / f"{p}.onnx")} for p in ("backbone", "head")}
        manifest = {
            "schema": SCHEMA, "model": name, "format": "opencv-nano", "precision": "fp32", "files": files,
            "contract": {"runner": "cv2.TrackerNano (OpenCV >= 4.7)", "template": TEMPLATE, "search": SEARCH,
                         "stride": STRIDE, "score_size": CELLS, "input": "RGB float 0..255 NCHW",
                         "head_inputs": ["input1", "input2"], "head_outputs": ["output1", "output2"]},
            "adaptation": {"pad": "1 replicated pixel per side: 127/255 crops → the model's 129/257",
                           "cells": "0..15 of the model's 17x17 map (cell j on pixel 16j-1 = OpenCV's cell j)",
                           "score": "logits (0, s): softmax = sigmoid(s)",
                           "template_mask": "fixed: a square target of 63.5 px (the head cannot see the box)"},
            "parity": dict(parity, tolerance=TOLERANCE, inputs=desc,
                           reference="the PyTorch model on the padded crops with the same fixed mask"),
            "model_info": module.geometry_info(), "tools": tool_versions(),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "export_seconds": round(time.time() - t0, 1),
        }
        write_json_atomic(tmp / "manifest.json", seal_manifest(manifest), indent=2)
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old.", dir=out_dir))
            final.replace(old / "pair")
            tmp.replace(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.replace(final)
        worst = max(max(p["max_rel_err"].values()) for p in parity.values())
        log(f"[export] wrote {final}/backbone.onnx + head.onnx, max rel err {worst:.2e} (tolerance {TOLERANCE:.0e})")
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

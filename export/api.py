"""``export()``: PyTorch model → verified artifact + manifest (ONNX or TFLite, fp32/fp16/int8).

Every artifact is built in a temp folder, run in its own runtime on real held-out frames, compared
with PyTorch, described by a manifest, and only then moved into place (rename), so a failed or
interrupted export never leaves a half-written model behind.
"""
from __future__ import annotations

import datetime as _dt
import platform
import shutil
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from edgecv.runtime.bundle import FORMATS, artifact_name
from edgecv.runtime.manifest import SCHEMA, manifest_path, seal_manifest, sha256_file
from edgecv.runtime.outputs import write_json_atomic

from .errors import ExportError, ParityError

PRECISIONS = ("fp32", "fp16", "int8")
OPS = ("standard", "portable")
TOLERANCE = {"fp32": 1e-4, "fp16": 1e-2}  # max |err| / max |reference|, per output


def check_combination(fmt: str, precision: str, ops: str | None) -> str:
    """Validate format/precision/ops; returns the ops mode to use."""
    if fmt not in FORMATS:
        raise ExportError(f"unsupported format {fmt!r}; choose from {', '.join(FORMATS)}")
    if precision not in PRECISIONS:
        raise ExportError(f"unsupported precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    if ops is None:
        ops = "standard" if fmt == "onnx" else "portable"
    if ops not in OPS:
        raise ExportError(f"unsupported ops mode {ops!r}; choose from {', '.join(OPS)}")
    if fmt == "tflite" and ops == "standard":
        raise ExportError("unsupported combination: --format tflite --ops standard (LiteRT has no DeformConv "
                          "or GridSample builtin); TFLite exports always use --ops portable")
    return ops


def resolve_model(model):
    """A registered name, a checkpoint path, or an ``nn.Module`` → (module in eval mode, name)."""
    import torch

    from edgecv.models import create_model

    if isinstance(model, torch.nn.Module):
        return model.eval(), getattr(model, "model_name", type(model).__name__)
    p = Path(str(model))
    if p.suffix.lower() == ".onnx":  # a user's ONNX file: re-exported through edgecv's ops (onnx_import)
        from .onnx_import import ImportedGraph

        return ImportedGraph(p).eval(), p.stem
    if p.suffix in (".pt", ".pth") or p.exists():
        if not p.is_file():
            raise ExportError(f"checkpoint {p} does not exist")
        try:
            ckpt = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as e:
            first = next((line.strip() for line in str(e).splitlines() if line.strip()), type(e).__name__)
            raise ExportError(f"cannot read checkpoint {p}: {first[:300]}") from None
        name, state = None, ckpt
        if isinstance(ckpt, dict) and "state_dict" in ckpt and "model" in ckpt:
            name, state = ckpt["model"], ckpt["state_dict"]
        elif p.with_suffix(".json").exists():
            import json
            name = json.loads(p.with_suffix(".json").read_text()).get("model")
        if name is None:
            raise ExportError(f"checkpoint {p}: cannot tell which model it belongs to; save it as "
                              "{'model': NAME, 'state_dict': ...} or keep its NAME.json card beside it")
        m = create_model(name, pretrained=False)
        try:
            m.load_state_dict(state)
        except RuntimeError as e:
            # torch's message is several lines (missing keys, unexpected keys, size mismatches): all on one line
            detail = " ".join(line.strip() for line in str(e).splitlines() if line.strip())
            raise ExportError(f"checkpoint {p} does not fit model {name!r}: {detail}") from None
        return m.eval(), name
    return create_model(str(model), pretrained=True), str(model)


def default_check_frames(n_video: int = 9):
    """Held-out real frames: never trained on, never calibrated on (see ``edgecv.data.check_frames``)."""
    from edgecv import data

    frames = data.check_frames(n_video)
    return frames, (f"{len(frames)} held-out frames: {n_video} from the last 30% of vtest.avi, Megamind.avi, "
                    f"tree.avi and the held-out 30% strip of {len(frames) - n_video} photos")


def calib_frames(calib, n: int, video: str | None = None):
    """Frames for int8 calibration: ``calib`` (folder or video); else ``video``'s training split (a sample video
    the model names as its domain); else the training split's photos and videos."""
    from edgecv import data

    if calib is None and video is not None:
        frames = data.video_part(video, "train")
        frames = frames[::max(1, len(frames) // n)][:n]
        return frames, f"{len(frames)} frames spread over {video}'s training split (first 70%)"

    if calib is not None:
        try:
            frames = data.read_frames(calib, max_frames=n, step=1 if Path(calib).is_dir() else 5)
        except data.DataError as e:
            raise ExportError(f"calibration source: {e}") from None
        return frames, f"{len(frames)} frames of {calib}"
    frames = data.calibration_frames(n)
    return frames, (f"{len(frames)} training-split frames (left 70% of the photos, first 70% of vtest.avi, "
                    "Megamind.avi, tree.avi)")


def tool_versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("edgecv", "torch", "onnx", "onnxruntime", "onnxslim", "litert-torch", "ai-edge-litert",
                "ai-edge-quantizer", "opencv-python-headless", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def model_cost(module, example) -> dict:
    """Multiply-accumulates of one forward (torch's FLOP counter / 2) and the parameter count."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(*example)
    return {"macs": int(counter.get_total_flops() // 2), "params": int(sum(p.numel() for p in module.parameters()))}


def _ref_outputs(model, feeds, output_names):
    import torch

    outs = []
    with torch.no_grad():
        for f in feeds:
            o = model(**f)
            o = o if isinstance(o, (tuple, list)) else (o,)
            outs.append({n: t.detach().numpy() for n, t in zip(output_names, o)})
    return outs


def _cosine_where(r: np.ndarray, g: np.ndarray, mask: np.ndarray) -> tuple[float, int]:
    """Mean cosine of the channel vectors (axis 2 of stacked (n, 1, C, H, W) outputs) at the cells where ``mask``
    ((n, 1, 1, H, W) bool) holds, and how many cells that is."""
    rv = np.moveaxis(r, 2, -1)[np.broadcast_to(mask, r.shape)[:, :, 0]]
    gv = np.moveaxis(g, 2, -1)[np.broadcast_to(mask, g.shape)[:, :, 0]]
    if not len(rv):
        return 0.0, 0   # nothing to judge on: fails any threshold
    cos = np.sum(rv * gv, 1) / (np.linalg.norm(rv, axis=1) * np.linalg.norm(gv, axis=1) + 1e-12)
    return float(np.mean(cos)), len(rv)


def compare(ref: list[dict], got: list[dict], precision: str, metric: str, where: dict | None = None) -> dict:
    """Parity figures: max abs / relative error per output, top-1 agreement and cosine of the first.

    ``where`` (output → (mask output, threshold)): that output's int8 verdict uses its cosine at the cells where
    the reference mask output ≥ threshold (``cosine_where``), as the runtime reads it."""
    res = {"outputs": {}}
    for name in ref[0]:
        r = np.stack([x[name] for x in ref]).astype(np.float64)
        g = np.stack([x[name] for x in got]).astype(np.float64).reshape(r.shape)
        abs_err = float(np.abs(r - g).max())
        scale = float(np.abs(r).max()) or 1.0
        flat_r, flat_g = r.reshape(len(r), -1), g.reshape(len(g), -1)
        cos = float(np.mean(np.sum(flat_r * flat_g, 1) /
                            (np.linalg.norm(flat_r, axis=1) * np.linalg.norm(flat_g, axis=1) + 1e-12)))
        entry = {"max_abs_err": abs_err, "max_rel_err": abs_err / scale, "cosine": cos}
        if r.ndim >= 2 and r.shape[-1] > 1:
            entry["top1_agreement"] = float(np.mean(r.argmax(-1) == g.argmax(-1)))
        if where and name in where:
            mask_name, thr = where[name]
            m = np.stack([x[mask_name] for x in ref]) >= thr
            entry["cosine_where"], entry["cells_where"] = _cosine_where(r, g, m[:, :, :1])
        res["outputs"][name] = entry
    first = res["outputs"][next(iter(ref[0]))]
    res["max_rel_err"] = max(e["max_rel_err"] for e in res["outputs"].values())
    res["max_abs_err"] = max(e["max_abs_err"] for e in res["outputs"].values())
    if precision == "int8":
        res["metric"] = metric
        res["value"] = first["top1_agreement"] if metric == "top1" else min(
            e.get("cosine_where", e["cosine"]) for e in res["outputs"].values())
        if where:
            res["judged_where"] = {k: f"{m} >= {t}" for k, (m, t) in where.items()}
    return res


def export(model, format: str = "onnx", precision: str = "fp32", ops: str | None = None, calib=None,
           out_dir="artifacts", keep_failed: bool = False, n_calib: int = 64, n_check: int = 9,
           check_frames=None, progress=print) -> Path | list[Path]:
    """Export ``model`` (registered name, checkpoint path or module) and return the artifact path
    (a list of paths for models made of several graphs, such as a tracker's template and search).

    Raises ExportError (ParityError when the artifact disagrees with PyTorch beyond tolerance; with
    ``keep_failed=True`` it is kept and marked ``kept_despite_failure`` in the manifest).
    """
    import torch

    from edgecv.runtime import load

    from . import onnx_backend, tflite_backend

    log = progress or (lambda *a, **k: None)
    ops = check_combination(format, precision, ops)
    module, name = resolve_model(model)
    if hasattr(module, "export_parts"):  # a tracker ships as several graphs (template, search)
        paths, failed = [], []
        for part_name, part in module.export_parts().items():
            try:  # each part stands alone: one that fails does not stop the others
                paths.append(export(part, format, precision, ops, calib, out_dir, keep_failed, n_calib, n_check,
                                    check_frames, progress))
            except ExportError as e:
                failed.append(f"{part_name}: {e}")
                log(f"[export] {name} {part_name} part failed: {e}")
        if failed:
            raise ExportError(f"{name}: {len(failed)} of {len(failed) + len(paths)} parts failed ("
                              + "; ".join(failed) + ")" + (f"; written: {', '.join(map(str, paths))}" if paths else ""))
        return paths
    spec = module.export_spec
    input_names = [t.name for t in spec.inputs]
    example = tuple(torch.zeros(t.shape) for t in spec.inputs)
    t0 = time.time()
    calib_method = "pt2e-symmetric-per-channel" if format == "tflite" else None

    if check_frames is None:
        frames, check_desc = default_check_frames(n_check)
    else:
        frames, check_desc = check_frames
    check_feeds = module.sample_inputs(frames)
    calib_feeds, calib_desc = None, None
    if precision == "int8":
        cframes, calib_desc = calib_frames(calib, min(n_calib, spec.int8_calib_frames or n_calib),
                                           spec.int8_calib_video)
        calib_feeds = module.sample_inputs(cframes)
    ref = _ref_outputs(module, check_feeds, spec.outputs)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / artifact_name(name, None, format, precision, ops)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{final.stem}.", dir=out_dir))
    try:
        art = tmpdir / final.name
        log(f"[export] {name} → {format} {precision} ({ops} ops)")
        with torch.no_grad():
            if format == "onnx":
                fp32 = tmpdir / "fp32.onnx"
                onnx_backend.torch_to_onnx(module, example, input_names, spec.outputs, ops, fp32)
                if precision == "fp32":
                    shutil.move(fp32, art)
                elif precision == "fp16":
                    onnx_backend.to_fp16(fp32, art)
                else:
                    log(f"[export] calibrating int8 on {calib_desc}")
                    calib_method = onnx_backend.quantize_int8(fp32, art, onnx_backend.np_feeds(calib_feeds),
                                                              float_outputs=spec.int8_float_outputs,
                                                              float_correlation=spec.int8_float_correlation,
                                                              op_types=spec.int8_op_types or None)
                op_counts = onnx_backend.onnx_op_counts(art)
                left = sorted(k for k in op_counts if k in onnx_backend.SPECIAL_OPS)
                if ops == "portable" and left:  # e.g. a user's module calling an import-time alias of grid_sample
                    raise ExportError(f"{final.name}: {', '.join(left)} left in a portable export (the op was not "
                                      "routed through edgecv's lowering; call it as torch.nn.functional.grid_sample "
                                      "or edgecv.ops); nothing was written")
            else:
                if precision == "int8":
                    log(f"[export] calibrating int8 on {calib_desc}")
                    calib_args = [tuple(f[n] for n in input_names) for f in calib_feeds]
                    tflite_backend.torch_to_tflite_int8(module, example, calib_args, art,
                                                        float_modules=spec.int8_float_modules)
                else:
                    fp32 = tmpdir / "fp32.tflite"
                    tflite_backend.torch_to_tflite(module, example, fp32)
                    if precision == "fp16":
                        tflite_backend.tflite_fp16(fp32, art)
                    else:
                        shutil.move(fp32, art)
                op_counts = tflite_backend.tflite_op_counts(art)

        manifest = {
            "schema": SCHEMA, "model": name, "description": spec.description, "format": format,
            "precision": precision, "ops_mode": ops, "opset": onnx_backend.OPSET if format == "onnx" else None,
            "file": final.name, "bytes": art.stat().st_size, "sha256": sha256_file(art),
            "inputs": [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype} for t in spec.inputs],
            "outputs": [], "op_counts": op_counts,
            "custom_ops": sorted(k for k in op_counts if k in onnx_backend.SPECIAL_OPS),
            "calibration": {"source": calib_desc, "method": calib_method} if calib_desc else None,
            "cost": model_cost(module, example),
            "model_info": spec.extra, "tools": tool_versions(),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        log(f"[export] checking against PyTorch on {check_desc}")
        sess = load(art, verify=False)
        sess.manifest = manifest
        if hasattr(sess, "_rename"):
            sess._rename()
        for t in sess.inputs:  # the runtime's view, including any quantisation of the I/O
            entry = next(i for i in manifest["inputs"] if i["name"] == t.name)
            entry["quantization"] = t.as_dict()["quantization"]
        manifest["outputs"] = [dict(t.as_dict(), name=n) for t, n in zip(sess.outputs, spec.outputs)]
        got = [sess.run(onnx_backend.np_feeds([f])[0]) for f in check_feeds]
        got = [dict(zip(spec.outputs, g.values())) for g in got]
        parity = compare(ref, got, precision, spec.int8_metric, spec.int8_judge_where)
        if precision == "int8":
            parity["threshold"] = spec.int8_threshold
            passed = parity["value"] >= spec.int8_threshold
            verdict = f"{spec.int8_metric} {parity['value']:.4f} (needs ≥ {spec.int8_threshold})"
        else:
            parity["tolerance"] = TOLERANCE[precision]
            passed = parity["max_rel_err"] <= TOLERANCE[precision]
            verdict = f"max rel err {parity['max_rel_err']:.2e} (tolerance {TOLERANCE[precision]:.0e})"
        parity.update(passed=passed, inputs=check_desc, backend=sess.backend, kept_despite_failure=False)
        manifest["parity"] = parity
        if not passed:
            if not keep_failed:
                raise ParityError(f"{final.name}: parity check failed: {verdict}; nothing was written "
                                  "(pass --keep-failed to keep it anyway, marked as failed)")
            parity["kept_despite_failure"] = True
            log(f"[export] WARNING parity failed ({verdict}); kept because --keep-failed")
        manifest["export_seconds"] = round(time.time() - t0, 1)
        write_json_atomic(tmpdir / "manifest.json", seal_manifest(manifest), indent=2)
        art.replace(final)
        (tmpdir / "manifest.json").replace(manifest_path(final))
        log(f"[export] wrote {final} ({manifest['bytes'] / 1e6:.2f} MB), {verdict}")
        return final
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)

"""Kernel micro-benchmarks and generated timing variants for the latency predictor
(:mod:`edgecv.runtime.predict`).

``build_kernel_set`` exports small single-kind graphs (conv 1x1 / 3x3, depthwise 3x3, matmul, row gather
as the portable DCN/warp use it, grid-sample, elementwise chains, pooling, resize, reduce, data movement)
over a grid of shapes; ``build_variants`` exports the project's MobileNetV2 trunk at several widths and
input sizes. Weights are random: these are timing graphs, never shipped models. Each file gets a JSON
beside it (``PATH.kernel.json``: kind, shape parameters, format, precision).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .errors import ExportError


class _Conv(nn.Module):
    def __init__(self, cin, cout, k, stride=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=True)

    def forward(self, x):
        return self.conv(x)


class _Stack(nn.Module):
    """``n`` identical convs in a row (separates per-op from per-graph cost; layout changes once)."""

    def __init__(self, c, k, n, groups=1):
        super().__init__()
        self.convs = nn.Sequential(*[nn.Conv2d(c, c, k, 1, k // 2, groups=groups) for _ in range(n)])

    def forward(self, x):
        return self.convs(x)


class _Tiny(nn.Module):
    """One op on 8 numbers: the per-graph overhead of a run."""

    def forward(self, x):
        return x + 1.0


class _Linear(nn.Module):
    def __init__(self, k, n):
        super().__init__()
        self.fc = nn.Linear(k, n)

    def forward(self, x):
        return self.fc(x)


class _MatMul(nn.Module):
    """Activation × activation (attention-style, and the matmul blend of the portable ops)."""

    def forward(self, a, b):
        return torch.matmul(a, b)


class _Gather(nn.Module):
    """Row gather from a (rows, C) table, as the portable DCN / warp lowering does."""

    def __init__(self, rows, n_idx, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("idx", torch.randint(0, rows, (n_idx,), generator=g))

    def forward(self, table):
        return table.index_select(0, self.idx)


class _GridSample(nn.Module):
    def forward(self, feat, grid):
        return F.grid_sample(feat, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


class _Elementwise(nn.Module):
    def forward(self, x, y):
        z = x * y + x
        return torch.sigmoid(z) * torch.relu(y - z)


class _Pool(nn.Module):
    def __init__(self, mode):
        super().__init__()
        self.mode = mode

    def forward(self, x):
        if self.mode == "max3s2":
            return F.max_pool2d(x, 3, 2, 1)
        if self.mode == "avg2":
            return F.avg_pool2d(x, 2, 2)
        return x.mean((2, 3), keepdim=True)


class _Resize(nn.Module):
    def __init__(self, mode):
        super().__init__()
        self.mode = mode

    def forward(self, x):
        if self.mode == "nearest":
            return F.interpolate(x, scale_factor=2.0, mode="nearest")
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class _Reduce(nn.Module):
    def forward(self, x):
        return torch.softmax(x, dim=-1) + x.amax(-1, keepdim=True)


class _Data(nn.Module):
    def forward(self, x, y):
        z = torch.cat([x, y], 1)
        z = F.pad(z, (1, 1, 1, 1))
        return z.permute(0, 2, 3, 1).reshape(1, -1, z.shape[1])


def _t(*shape):
    return torch.rand(*shape)


def _two(c, hw):
    return _t(1, c, hw, hw), _t(1, c, hw, hw)


def kernel_specs(size: str = "full") -> list[dict]:
    """The kernel grid: dicts with name, kind, params, a module factory and example inputs."""
    specs = []

    def add(kind, name, make, args, formats=("onnx", "tflite"), **params):
        specs.append({"kind": kind, "name": f"{kind}-{name}", "make": make, "args": args, "formats": formats,
                      "params": params})

    if size == "tiny":
        add("conv", "3x3-8-16-16", lambda: _Conv(8, 16, 3), lambda: (_t(1, 8, 16, 16),), cin=8, cout=16, k=3, hw=16)
        add("dwconv", "3x3-16-16", lambda: _Conv(16, 16, 3, groups=16), lambda: (_t(1, 16, 16, 16),),
            c=16, k=3, hw=16)
        add("elementwise", "8-16", lambda: _Elementwise(), lambda: (_t(1, 8, 16, 16), _t(1, 8, 16, 16)), c=8, hw=16)
        return specs
    add("elementwise", "tiny-8", lambda: _Tiny(), lambda: (_t(1, 8),), c=8, hw=1)
    # stacks of n identical ops next to the single ones: per-op cost apart from per-graph and edge costs
    for c, k, n, hw in [(32, 3, 3, 28), (64, 1, 4, 28), (16, 3, 4, 56), (32, 1, 6, 56), (96, 1, 6, 14),
                        (192, 1, 4, 7)]:
        add("conv", f"stack{n}-{k}x{k}-{c}-{hw}", lambda a=(c, k, n): _Stack(*a),
            lambda a=(c, hw): (_t(1, a[0], a[1], a[1]),), cin=c, cout=c, k=k, hw=hw, n=n)
    for c, n, hw in [(96, 3, 28), (32, 6, 56), (144, 4, 28), (384, 4, 14)]:
        add("dwconv", f"stack{n}-3x3-{c}-{hw}", lambda a=(c, n): _Stack(a[0], 3, a[1], groups=a[0]),
            lambda a=(c, hw): (_t(1, a[0], a[1], a[1]),), c=c, k=3, hw=hw, n=n)
    for cin, cout, hw, s in [(3, 16, 128, 2), (16, 32, 56, 1), (32, 64, 28, 1), (64, 64, 28, 1),
                             (128, 128, 14, 1), (256, 256, 7, 1), (32, 32, 56, 2)]:
        add("conv", f"3x3-{cin}-{cout}-{hw}-s{s}", lambda a=(cin, cout, s): _Conv(a[0], a[1], 3, a[2]),
            lambda a=(cin, hw): (_t(1, a[0], a[1], a[1]),), cin=cin, cout=cout, k=3, hw=hw, stride=s)
    for cin, cout, hw in [(16, 96, 56), (96, 24, 56), (32, 192, 28), (192, 32, 28), (64, 384, 14), (160, 960, 7),
                          (320, 1280, 4)]:
        add("conv", f"1x1-{cin}-{cout}-{hw}", lambda a=(cin, cout): _Conv(a[0], a[1], 1),
            lambda a=(cin, hw): (_t(1, a[0], a[1], a[1]),), cin=cin, cout=cout, k=1, hw=hw)
    for c, hw, s in [(32, 112, 1), (96, 56, 2), (144, 56, 1), (192, 28, 1), (384, 14, 1), (576, 14, 2), (960, 7, 1)]:
        add("dwconv", f"3x3-{c}-{hw}-s{s}", lambda a=(c, s): _Conv(a[0], a[0], 3, a[1], groups=a[0]),
            lambda a=(c, hw): (_t(1, a[0], a[1], a[1]),), c=c, k=3, hw=hw, stride=s)
    for m, k, n in [(1, 1280, 1000), (1, 512, 26), (196, 64, 128), (1024, 32, 32), (64, 256, 256)]:
        add("matmul", f"fc-{m}-{k}-{n}", lambda a=(k, n): _Linear(a[0], a[1]), lambda a=(m, k): (_t(a[0], a[1]),),
            m=m, k=k, n=n)
    for b, m, k, n in [(1, 256, 64, 256), (4, 64, 64, 64)]:
        add("matmul", f"bmm-{b}-{m}-{k}-{n}", lambda: _MatMul(),
            lambda a=(b, m, k, n): (_t(a[0], a[1], a[2]), _t(a[0], a[2], a[3])), b=b, m=m, k=k, n=n)
    for rows, c, n in [(784, 64, 3136), (3136, 32, 12544), (196, 128, 7056), (4096, 16, 16384)]:
        add("gather", f"rows-{rows}-{c}-{n}", lambda a=(rows, n): _Gather(a[0], a[1]),
            lambda a=(rows, c): (_t(a[0], a[1]),), rows=rows, c=c, n=n)
    for c, hw in [(32, 28), (64, 56), (64, 40), (16, 80)]:
        add("gather", f"grid-{c}-{hw}", lambda: _GridSample(),
            lambda a=(c, hw): (_t(1, a[0], a[1], a[1]), _t(1, a[1], a[1], 2) * 2 - 1), formats=("onnx",),
            c=c, hw=hw)
    for c, hw in [(16, 112), (64, 28), (256, 14), (32, 56)]:
        add("elementwise", f"{c}-{hw}", lambda: _Elementwise(), lambda a=(c, hw): _two(a[0], a[1]),
            c=c, hw=hw)
    for mode, c, hw in [("max3s2", 32, 112), ("avg2", 64, 28), ("global", 320, 7), ("global", 64, 56)]:
        add("pool", f"{mode}-{c}-{hw}", lambda m=mode: _Pool(m), lambda a=(c, hw): (_t(1, a[0], a[1], a[1]),),
            mode=mode, c=c, hw=hw)
    for mode, c, hw in [("bilinear", 32, 28), ("bilinear", 64, 14), ("nearest", 32, 56)]:
        add("resize", f"{mode}-{c}-{hw}", lambda m=mode: _Resize(m), lambda a=(c, hw): (_t(1, a[0], a[1], a[1]),),
            mode=mode, c=c, hw=hw)
    for rows, n in [(64, 1000), (1024, 196)]:
        add("reduce", f"softmax-{rows}-{n}", lambda: _Reduce(), lambda a=(rows, n): (_t(1, a[0], a[1]),),
            rows=rows, n=n)
    # large activations (out of cache) and awkward channel counts, as whole models have them (120x160 maps)
    big = (120, 160)
    for cin, cout, k, s in [(80, 32, 1, 1), (8, 48, 1, 1), (21, 32, 1, 1), (144, 48, 1, 1), (32, 2, 3, 1),
                            (3, 16, 3, 2), (32, 32, 3, 1)]:
        h, w = (big[0] * s, big[1] * s)
        add("conv", f"big-{k}x{k}-{cin}-{cout}-{h}x{w}-s{s}", lambda a=(cin, cout, k, s): _Conv(*a),
            lambda a=(cin, h, w): (_t(1, a[0], a[1], a[2]),), cin=cin, cout=cout, k=k, h=h, w=w, stride=s)
    for c in (80, 16):
        add("dwconv", f"big-3x3-{c}-120x160", lambda a=c: _Conv(a, a, 3, groups=a),
            lambda a=c: (_t(1, a, *big),), c=c, k=3, h=big[0], w=big[1])
    add("matmul", "bmm-big-1-1200-64-1200", lambda: _MatMul(), lambda: (_t(1, 1200, 64), _t(1, 64, 1200)),
        b=1, m=1200, k=64, n=1200)
    add("elementwise", "big-48-120x160", lambda: _Elementwise(), lambda: (_t(1, 48, *big), _t(1, 48, *big)),
        c=48, h=big[0], w=big[1])
    add("reduce", "softmax-big-1200-1200", lambda: _Reduce(), lambda: (_t(1, 1200, 1200),), rows=1200, n=1200)
    add("resize", "bilinear-big-32-60x80", lambda: _Resize("bilinear"), lambda: (_t(1, 32, 60, 80),), c=32, h=60, w=80)
    add("data", "catpadperm-big-32-120x160", lambda: _Data(), lambda: (_t(1, 32, *big), _t(1, 32, *big)), c=32,
        h=big[0], w=big[1])
    add("gather", "rows-big-19200-32-76800", lambda: _Gather(19200, 76800), lambda: (_t(19200, 32),), rows=19200,
        c=32, n=76800)
    for c, hw in [(32, 28), (64, 56)]:
        add("data", f"catpadperm-{c}-{hw}", lambda: _Data(), lambda a=(c, hw): _two(a[0], a[1]),
            c=c, hw=hw)
    return specs


def _write_json(path: Path, meta: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, path)


def _export_one(module, args, fmt: str, precision: str, out: Path, n_calib: int = 4) -> None:
    """Export ``module`` to ``out`` (temp file + rename)."""
    from . import onnx_backend, tflite_backend

    module = module.eval()
    torch.manual_seed(0)
    tmp = out.with_name(out.stem + ".tmp" + out.suffix)
    n_in = len(args)
    names = [f"x{i}" for i in range(n_in)]
    calib = [tuple(torch.rand_like(a) if a.is_floating_point() else a for a in args) for _ in range(n_calib)]
    try:
        if fmt == "onnx":
            if precision == "fp32":
                onnx_backend.torch_to_onnx(module, args, names, ["y"], "standard", tmp)
            else:
                fp = out.with_name(out.stem + ".fp32tmp.onnx")
                try:
                    onnx_backend.torch_to_onnx(module, args, names, ["y"], "standard", fp)
                    feeds = [{n: a.numpy() for n, a in zip(names, c)} for c in calib]
                    try:
                        onnx_backend.quantize_int8(fp, tmp, feeds)
                    except Exception as e:  # nothing to quantise (gather/grid-sample stay float in int8)
                        if "Histogram has not been collected" not in str(e):
                            raise
                        os.replace(fp, tmp)
                finally:
                    fp.unlink(missing_ok=True)
        elif fmt == "tflite":
            if precision == "fp32":
                tflite_backend.torch_to_tflite(module, args, tmp)
            else:
                tflite_backend.torch_to_tflite_int8(module, args, calib, tmp)
        else:
            raise ExportError(f"unknown format {fmt!r}")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _build(items, out_dir, formats, precisions, progress, meta_key="kernel") -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(it, f, p) for it in items for f in formats if f in it["formats"] for p in precisions]
    written = []
    for i, (it, fmt, prec) in enumerate(jobs):
        out = out_dir / f"{it['name']}-{prec}.{fmt}"
        if progress:
            progress(i, len(jobs), out.name)
        meta_path = out.with_name(out.name + ".kernel.json")
        if out.exists() and meta_path.exists():
            written.append(out)
            continue
        try:
            _export_one(it["make"](), it["args"](), fmt, prec, out)
        except Exception as e:  # one kernel that does not export must not stop the set
            if progress:
                progress(i, len(jobs), f"{out.name} failed: {str(e)[:200]}")
            continue
        _write_json(meta_path, {meta_key: it["name"], "kind": it["kind"], "params": it["params"], "format": fmt,
                                "precision": prec, "role": meta_key})
        written.append(out)
    if progress:
        progress(len(jobs), len(jobs), "done")
    return written


def build_kernel_set(out_dir, formats=("onnx", "tflite"), precisions=("fp32", "int8"), size: str = "full",
                     progress=None) -> list[Path]:
    """Export the kernel micro-benchmarks into ``out_dir`` (existing files are kept); returns the paths.

    ``size``: ``full`` (about 55 graphs per format × precision) or ``tiny`` (3, for tests).
    ``progress(i, n, label)`` is called before each export.
    """
    if size not in ("full", "tiny"):
        raise ExportError(f"kernel set size must be 'full' or 'tiny', not {size!r}")
    return _build(kernel_specs(size), out_dir, formats, precisions, progress)


def variant_specs(size: str = "full") -> list[dict]:
    """MobileNetV2 trunk + classifier head (random init) at several widths and input sizes."""
    from edgecv.models.mobilenetv2 import MobileNetV2

    grid = ([(0.35, 96), (0.5, 128), (0.75, 160), (1.0, 224), (0.5, 192), (1.0, 128)] if size == "full"
            else [(0.35, 64)])
    out = []
    for width, hw in grid:
        out.append({"kind": "variant", "name": f"mnv2-w{width}-{hw}",
                    "make": lambda w=width, s=hw: MobileNetV2(width_mult=w, dcn=False, num_classes=10, input_size=s,
                                                              head_hidden=256),
                    "args": lambda s=hw: (_t(1, 3, s, s),), "formats": ("onnx", "tflite"),
                    "params": {"width": width, "input": hw}})
    return out


def build_variants(out_dir, formats=("onnx", "tflite"), precisions=("fp32", "int8"), size: str = "full",
                   progress=None) -> list[Path]:
    """Export the generated timing variants into ``out_dir`` (``PATH.kernel.json`` with role ``variant``)."""
    return _build(variant_specs(size), out_dir, formats, precisions, progress, meta_key="variant")

"""An ONNX graph as a ``torch.nn.Module``: how a model that edgecv did not write reaches edgecv's exporters.

``OnnxModule(path)`` runs the graph's nodes in order with torch ops (weights become buffers), so the usual
path applies to it unchanged: ONNX re-export with the standard or portable ops, LiteRT through litert-torch,
int8 calibrated on real frames, parity against onnxruntime on the original. The converter on PyPI that does
this (onnx2torch) requires torchvision, which does not import beside the CPU torch used here, and would not
give ``DeformConv``/``GridSample`` edgecv's portable lowerings; this one covers the ops that edge vision graphs
use (convolutions, activations, pooling, reshapes, matmuls, the two sampling ops) and names any other op in
one line. Shapes are static: values computed from constants (``Shape``, ``Gather`` of a shape, ...) are
folded as Python numbers while the graph runs, as torch.export would.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edgecv.runtime.manifest import sha256_file

from .errors import ExportError, UnsupportedOpError

__all__ = ["ImportedGraph", "OnnxModule", "SUPPORTED_OPS", "describe_feeds", "load_onnx", "sample_feeds"]


def load_onnx(path) -> "onnx.ModelProto":  # noqa: F821 - onnx is imported lazily
    """Read and check an ONNX file; a file the checker refuses is an ExportError naming it."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"ONNX file {path} does not exist")
    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
    except Exception as e:  # DecodeError, ValidationError, ...: one line with the file
        first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
        raise ExportError(f"{path}: not a valid ONNX model ({first[:200]})") from None
    return proto


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _pads2d(pads, node):
    """ONNX pads (top, left, bottom, right) → F.pad order, or a symmetric (ph, pw) for the conv itself."""
    if not pads:
        return (0, 0), None
    t, left, b, r = pads
    if t == b and left == r:
        return (t, left), None
    return (0, 0), (left, r, t, b)


class OnnxModule(nn.Module):
    """Run an ONNX graph with torch. ``forward`` takes the graph's inputs positionally (in the graph's
    order) or by name and returns its outputs (a tensor for one output, else a tuple)."""

    def __init__(self, model, name: str | None = None):
        super().__init__()
        from onnx import numpy_helper

        proto = model if not isinstance(model, (str, Path)) else load_onnx(model)
        self.source = str(model) if isinstance(model, (str, Path)) else name or proto.graph.name
        g = proto.graph
        self._const_names, self._index_consts = {}, {}
        for k, init in enumerate(g.initializer):
            arr = np.array(numpy_helper.to_array(init))
            if np.issubdtype(arr.dtype, np.integer):  # shapes, axes, indices: Python-side, so export sees numbers
                self._index_consts[init.name] = arr
                continue
            key = f"c{k}"
            self.register_buffer(key, torch.from_numpy(arr), persistent=True)
            self._const_names[init.name] = key
        known = set(self._const_names) | set(self._index_consts)
        self.input_names = [i.name for i in g.input if i.name not in known]
        self.input_shapes = {i.name: tuple(d.dim_value if d.HasField("dim_value") else None
                                           for d in i.type.tensor_type.shape.dim) for i in g.input
                             if i.name not in known}
        self.output_names = [o.name for o in g.output]
        self.nodes = []
        for n in g.node:
            if n.op_type not in _OPS:
                where = f"node {n.name!r}" if n.name else f"the node making {list(n.output)}"
                raise UnsupportedOpError(f"{self.source}: op {n.op_type} ({where}) has no torch lowering in "
                                         f"edgecv.export.onnx_import; supported: {', '.join(sorted(_OPS))}")
            if n.domain not in ("", "ai.onnx"):
                raise UnsupportedOpError(f"{self.source}: op {n.domain}.{n.op_type} (node {n.name!r}) is not in "
                                         "the standard ONNX domain")
            self.nodes.append((n.op_type, list(n.input), list(n.output), _attrs(n), n.name))

    def forward(self, *args, **kwargs):
        env = {}
        if len(args) > len(self.input_names):
            raise ExportError(f"{self.source}: {len(args)} inputs given, the graph takes {self.input_names}")
        for name, a in zip(self.input_names, args):
            env[name] = a
        env.update(kwargs)
        missing = [n for n in self.input_names if n not in env]
        if missing:
            raise ExportError(f"{self.source}: missing inputs {missing}")
        for key_name, key in self._const_names.items():
            env[key_name] = getattr(self, key)
        env.update(self._index_consts)
        for op, ins, outs, at, name in self.nodes:
            vals = [env[i] if i else None for i in ins]
            try:
                res = _OPS[op](vals, at)
            except ExportError:
                raise
            except Exception as e:
                raise ExportError(f"{self.source}: op {op} (node {name!r}) failed on inputs of shape "
                                  f"{[tuple(v.shape) if isinstance(v, torch.Tensor) else v for v in vals]}: "
                                  f"{str(e).splitlines()[0][:200]}") from None
            res = res if isinstance(res, tuple) else (res,)
            for o, v in zip(outs, res):
                env[o] = v
        out = tuple(env[o] for o in self.output_names)
        return out[0] if len(out) == 1 else out


# ---- the op table -------------------------------------------------------------------------------------------

def _ints(t) -> list[int]:
    """A shape/axes/index tensor (constant) → Python ints."""
    if isinstance(t, torch.Tensor):
        return [int(v) for v in t.reshape(-1).tolist()]
    return [int(v) for v in np.asarray(t).reshape(-1)]


def _conv(v, a):
    x, w = v[0], v[1]
    b = v[2] if len(v) > 2 else None
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise UnsupportedOpError(f"Conv auto_pad={a['auto_pad']!r} (only explicit pads)")
    if w.dim() != 4:
        raise UnsupportedOpError(f"Conv with a {w.dim()}-D weight (only 2-D convolutions)")
    sym, asym = _pads2d(a.get("pads"), None)
    if asym is not None:
        x = F.pad(x, asym)
    return F.conv2d(x, w, b, tuple(a.get("strides", (1, 1))), sym, tuple(a.get("dilations", (1, 1))),
                    int(a.get("group", 1)))


def _gemm(v, a):
    x, w = v[0], v[1]
    c = v[2] if len(v) > 2 else None
    if a.get("transA", 0):
        x = x.t()
    if a.get("transB", 0):
        w = w.t()
    y = a.get("alpha", 1.0) * (x @ w)
    if c is not None:
        y = y + a.get("beta", 1.0) * c
    return y


def _reshape(v, a):
    x, shape = v[0], _ints(v[1])
    if not a.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _clip(v, a):
    x = v[0]
    lo = v[1] if len(v) > 1 and v[1] is not None else a.get("min")
    hi = v[2] if len(v) > 2 and v[2] is not None else a.get("max")
    # bounds stay tensors (a float() of a weight would be data-dependent under torch.export)
    if lo is not None:
        x = torch.maximum(x, torch.as_tensor(lo, dtype=x.dtype))
    if hi is not None:
        x = torch.minimum(x, torch.as_tensor(hi, dtype=x.dtype))
    return x


def _slice(v, a):
    x = v[0]
    starts, ends = _ints(v[1]), _ints(v[2])
    axes = _ints(v[3]) if len(v) > 3 and v[3] is not None else list(range(len(starts)))
    steps = _ints(v[4]) if len(v) > 4 and v[4] is not None else [1] * len(starts)
    idx = [slice(None)] * x.dim()
    for s, e, ax, st in zip(starts, ends, axes, steps):
        if st <= 0:
            raise UnsupportedOpError("Slice with a non-positive step")
        n = x.shape[ax]
        s = max(0, min(n, s + n if s < 0 else s))
        e = max(0, min(n, e + n if e < 0 else e))
        idx[ax] = slice(s, e, st)
    return x[tuple(idx)]


def _pool(kind):
    def f(v, a):
        x = v[0]
        k = tuple(a["kernel_shape"])
        sym, asym = _pads2d(a.get("pads"), None)
        if asym is not None:
            x = F.pad(x, asym, value=float("-inf") if kind == "max" else 0.0)
        s = tuple(a.get("strides", (1, 1)))
        if kind == "max":
            return F.max_pool2d(x, k, s, sym, ceil_mode=bool(a.get("ceil_mode", 0)))
        return F.avg_pool2d(x, k, s, sym, ceil_mode=bool(a.get("ceil_mode", 0)),
                            count_include_pad=bool(a.get("count_include_pad", 0)))
    return f


def _batchnorm(v, a):
    x, g, b, m, var = v[:5]
    return F.batch_norm(x, m, var, g, b, False, 0.0, a.get("epsilon", 1e-5))


def _softmax(v, a):
    return torch.softmax(v[0], int(a.get("axis", -1)))


def _constant(v, a):
    from onnx import numpy_helper

    if "value" in a:
        arr = np.array(numpy_helper.to_array(a["value"]))
        return arr if np.issubdtype(arr.dtype, np.integer) else torch.from_numpy(arr)
    if "value_float" in a:
        return torch.tensor(a["value_float"])
    if "value_floats" in a:
        return torch.tensor(list(a["value_floats"]))
    for k in ("value_int", "value_ints"):
        if k in a:
            return np.array(a[k], np.int64)
    raise UnsupportedOpError(f"Constant with attributes {sorted(a)}")


def _resize(v, a):
    x = v[0]
    mode = a.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    scales = v[2] if len(v) > 2 and v[2] is not None and v[2].numel() else None
    sizes = _ints(v[3]) if len(v) > 3 and v[3] is not None and v[3].numel() else None
    size = sizes[2:] if sizes else [int(round(x.shape[i] * float(scales[i]))) for i in (2, 3)]
    ct = a.get("coordinate_transformation_mode", b"half_pixel")
    ct = ct.decode() if isinstance(ct, bytes) else ct
    if mode == "nearest":
        return F.interpolate(x, size=size, mode="nearest")
    if mode == "linear":
        return F.interpolate(x, size=size, mode="bilinear", align_corners=ct == "align_corners")
    raise UnsupportedOpError(f"Resize mode {mode!r}")


def _grid_sample(v, a):
    from edgecv.ops.warp import grid_sample

    mode = a.get("mode", b"linear")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    pad = a.get("padding_mode", b"zeros")
    pad = pad.decode() if isinstance(pad, bytes) else pad
    try:
        return grid_sample(v[0], v[1], mode, pad, bool(a.get("align_corners", 0)))
    except ValueError as e:
        raise UnsupportedOpError(str(e)) from None


def _deform_conv(v, a):
    from edgecv.ops.deform_conv import deform_conv2d

    x, w, off = v[0], v[1], v[2]
    b = v[3] if len(v) > 3 else None
    mask = v[4] if len(v) > 4 else None
    if int(a.get("group", 1)) * w.shape[1] != x.shape[1]:
        raise UnsupportedOpError(f"DeformConv group={a.get('group', 1)} does not fit input channels {x.shape[1]} "
                                 f"and weight {tuple(w.shape)}")
    if off.shape[1] != 2 * int(a.get("offset_group", 1)) * w.shape[2] * w.shape[3]:
        raise UnsupportedOpError(f"DeformConv offset_group={a.get('offset_group', 1)} does not fit offset "
                                 f"{tuple(off.shape)}")
    pads = list(a.get("pads", (0, 0, 0, 0)))
    if pads[0] != pads[2] or pads[1] != pads[3]:
        raise UnsupportedOpError(f"DeformConv with asymmetric pads {pads}")
    return deform_conv2d(x, off, w, b, tuple(a.get("strides", (1, 1))), (pads[0], pads[1]),
                         tuple(a.get("dilations", (1, 1))), mask)


_OPS = {
    "Conv": _conv,
    "Relu": lambda v, a: F.relu(v[0]),
    "LeakyRelu": lambda v, a: F.leaky_relu(v[0], a.get("alpha", 0.01)),
    "Sigmoid": lambda v, a: torch.sigmoid(v[0]),
    "Tanh": lambda v, a: torch.tanh(v[0]),
    "HardSigmoid": lambda v, a: torch.clamp(a.get("alpha", 0.2) * v[0] + a.get("beta", 0.5), 0.0, 1.0),
    "HardSwish": lambda v, a: F.hardswish(v[0]),
    "Exp": lambda v, a: torch.exp(v[0]),
    "Sqrt": lambda v, a: torch.sqrt(v[0]),
    "Neg": lambda v, a: -v[0],
    "Abs": lambda v, a: torch.abs(v[0]),
    "Clip": _clip,
    "Add": lambda v, a: v[0] + v[1],
    "Sub": lambda v, a: v[0] - v[1],
    "Mul": lambda v, a: v[0] * v[1],
    "Div": lambda v, a: v[0] / v[1],
    "Pow": lambda v, a: torch.pow(v[0], v[1]),
    "MatMul": lambda v, a: torch.matmul(v[0], v[1]),
    "Gemm": _gemm,
    "GlobalAveragePool": lambda v, a: v[0].mean(dim=(2, 3), keepdim=True),
    "GlobalMaxPool": lambda v, a: v[0].amax(dim=(2, 3), keepdim=True),
    "MaxPool": _pool("max"),
    "AveragePool": _pool("avg"),
    "BatchNormalization": _batchnorm,
    "Softmax": _softmax,
    "Reshape": _reshape,
    "Flatten": lambda v, a: v[0].reshape(int(np.prod(v[0].shape[:a.get("axis", 1)])), -1),
    "Transpose": lambda v, a: v[0].permute(*a["perm"]) if "perm" in a else v[0].permute(*reversed(range(v[0].dim()))),
    "Concat": lambda v, a: torch.cat(v, int(a["axis"])),
    "Slice": _slice,
    "Squeeze": lambda v, a: v[0].squeeze(tuple(_ints(v[1]) if len(v) > 1 else a.get("axes", ()))) if (
        len(v) > 1 or "axes" in a) else v[0].squeeze(),
    "Unsqueeze": lambda v, a: _unsqueeze(v[0], _ints(v[1]) if len(v) > 1 else list(a["axes"])),
    "Identity": lambda v, a: v[0],
    "Constant": _constant,
    "Resize": _resize,
    "GridSample": _grid_sample,
    "DeformConv": _deform_conv,
}


def _unsqueeze(x, axes):
    for ax in sorted(ax if ax >= 0 else ax + x.dim() + len(axes) for ax in axes):
        x = x.unsqueeze(ax)
    return x


SUPPORTED_OPS = tuple(sorted(_OPS))


def _image_like(shape) -> bool:
    return len(shape) == 4 and shape[1] in (1, 3) and shape[2] >= 16 and shape[3] >= 16


def describe_feeds(inputs, noise_scale: float = 1.0) -> dict:
    """What :func:`sample_feeds` gives each input, for the manifest."""
    return {n: "real frames resized" if _image_like(s) else f"normal noise × {noise_scale:g} (seeded)"
            for n, s in inputs}


def sample_feeds(inputs, frames, noise_scale: float = 1.0) -> list[dict]:
    """One feed per frame for a graph that edgecv did not write (``inputs``: [(name, shape)]): an image-like input
    (N×3×H×W or N×1×H×W, H, W ≥ 16) gets the frame resized to H×W (RGB in [0, 1], grey for one channel), any
    other input seeded normal noise × ``noise_scale``."""
    import cv2

    rng = np.random.default_rng(0)
    feeds = []
    for f in frames:
        feed = {}
        for name, shape in inputs:
            if _image_like(shape):
                img = cv2.resize(f, (shape[3], shape[2]), interpolation=cv2.INTER_AREA)
                arr = (cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[None, None] if shape[1] == 1
                       else img[..., ::-1].transpose(2, 0, 1)[None])
                arr = np.repeat(arr, shape[0], 0).astype(np.float32) / 255.0
            else:
                arr = (rng.standard_normal(shape) * noise_scale).astype(np.float32)
            feed[name] = torch.from_numpy(np.ascontiguousarray(arr))
        feeds.append(feed)
    return feeds


class ImportedGraph(OnnxModule):
    """A user's ONNX file as an exportable edgecv model: ``export(ImportedGraph(path), ...)`` (or ``edgecv export
    model.onnx``) re-exports it to ONNX with the standard or portable ops, or to TFLite, checked as every export.

    The graph's inputs must have static shapes. Sample inputs for parity and int8 calibration: an image-like
    input (N×3×H×W or N×1×H×W float) gets real frames resized to H×W (RGB in [0, 1], grey for one channel);
    any other input gets seeded normal noise (scaled by ``noise_scale``), said so in the manifest. The manifest's
    ``model_info.source_parity`` gives this reading against onnxruntime on the original file."""

    def __init__(self, path, noise_scale: float = 1.0):
        from edgecv.models.registry import ExportSpec, TensorSpec

        super().__init__(path)
        path = Path(path)
        self.model_name = path.stem
        self.noise_scale = noise_scale
        specs = []
        for name in self.input_names:
            shape = self.input_shapes[name]
            if not shape or any(d is None or d <= 0 for d in shape):
                raise ExportError(f"{path}: input {name!r} has shape {shape}; edgecv exports static shapes: fix it "
                                  "first (e.g. onnxslim --input-shapes NAME:1,3,256,256)")
            specs.append(TensorSpec(name, tuple(shape)))
        self.source_file = path
        self.export_spec = ExportSpec(
            inputs=specs, outputs=[f"out{k}" if not n else n for k, n in enumerate(self.output_names)],
            int8_metric="cosine", int8_threshold=0.98, description=f"imported from {path.name}",
            extra={"source": {"file": path.name, "sha256": sha256_file(path)}, "origin": "user ONNX file, read by "
                   "edgecv.export.onnx_import", "sample_inputs": self._describe()})
        self._parity_done = False

    def _describe(self) -> dict:
        return describe_feeds([(n, self.input_shapes[n]) for n in self.input_names], self.noise_scale)

    def sample_inputs(self, frames) -> list[dict]:
        feeds = sample_feeds([(n, self.input_shapes[n]) for n in self.input_names], frames, self.noise_scale)
        if not self._parity_done:  # this reading against onnxruntime on the original, on the same inputs
            self.export_spec.extra["source_parity"] = self.source_parity(feeds)
            self._parity_done = True
        return feeds

    def source_parity(self, feeds) -> dict:
        import onnxruntime as ort

        sess = ort.InferenceSession(str(self.source_file), providers=["CPUExecutionProvider"])
        worst = 0.0
        with torch.no_grad():
            for f in feeds:
                ref = sess.run(None, {k: v.numpy() for k, v in f.items()})
                got = self(**f)
                got = got if isinstance(got, tuple) else (got,)
                for g, r in zip(got, ref):
                    worst = max(worst, float(np.abs(g.numpy() - r).max() / (np.abs(r).max() or 1.0)))
        return {"max_rel_err": worst, "reference": "onnxruntime on the original file", "inputs": len(feeds)}

    def forward(self, *args, **kwargs):
        return super().forward(*args, **kwargs)


"""Per-op cost of an artifact's graph (``.onnx`` or ``.tflite``): op type, kind, FLOPs, bytes moved, params.

Costing rules (what the runtimes actually execute, not the file's literal node list):

- **constant folding**: a node whose inputs are all constants (initialisers, ``Constant``, ``Shape`` of a
  static tensor, ``DEQUANTIZE`` of fp16/int8 weights) is folded at load time and costs 0 (``fused=True``).
- **ONNX QDQ**: onnxruntime fuses ``DequantizeLinear → op → QuantizeLinear`` into one int8 kernel
  (QLinearConv, QLinearMatMul, QLinearAdd, ...). A compute op fed by a ``DequantizeLinear`` is costed as
  int8 (1 byte per element) and the Q/DQ nodes around it cost 0; a Q/DQ that sits alone (a float op next
  to int8 ones) is a real ``data`` op. ``QLinearConv``/``ConvInteger`` count as ``conv``.
- **activation fusion**: an activation (Relu, Clip, Sigmoid, HardSigmoid, LeakyRelu, Tanh, HardSwish),
  BatchNormalization or bias ``Add`` whose only input comes from a Conv/Gemm/MatMul with no other consumer
  is fused into it (ORT's FusedConv / MatMulAdd; TFLite already stores fused activations).
- FLOPs: 2×MACs for conv/matmul; output elements for elementwise (input elements for reductions);
  bilinear sampling 8 per output element. Bytes: non-constant inputs + outputs + weights, × element size.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ArtifactError

KINDS = ("conv", "dwconv", "matmul", "gather", "elementwise", "pool", "resize", "reduce", "data", "other")
# Fit groups: a kind, or a finer split of one where kernels of one kind run at very different efficiencies
# (1x1 convs are memory-bound next to kxk ones; transposes and (de)quantisation next to other data moves).
GROUPS = ("conv", "conv1x1", "dwconv", "matmul", "gather", "grid", "elementwise", "pool", "resize", "reduce",
          "data", "transpose", "quant", "io", "other")
GROUP_KIND = {"conv1x1": "conv", "grid": "gather", "transpose": "data", "quant": "data", "io": "data"}
# an op moving more than this many bytes streams from L3/DRAM instead of the core's L2 (``bytes_big``)
CACHE_BYTES = 1 << 20
NARROW = 16  # a conv/matmul with fewer input or output channels than this runs its FLOPs less efficiently
IO_OP = "GraphIO"  # pseudo-op: copying the graph's inputs in and outputs out (and layout changes at the edges)
_TRANSPOSE = {"Transpose", "TRANSPOSE"}
_QUANT = {"QuantizeLinear", "DequantizeLinear", "Cast", "QUANTIZE", "DEQUANTIZE", "CAST"}


@dataclass
class OpCost:
    name: str
    op_type: str
    kind: str
    flops: float = 0.0
    bytes: float = 0.0
    params: int = 0
    fused: bool = False          # folded/fused away at run time: costs nothing
    int8: bool = False
    narrow: bool = False         # conv/matmul with < NARROW input (per group) or output channels
    half: bool = False           # computes in fp16 (ONNX fp16 graphs; TFLite fp16 weights are folded to fp32)
    note: str = ""
    shapes: list = field(default_factory=list)
    group: str = ""              # fit group (see GROUPS); set by op_costs

    def as_dict(self) -> dict:
        return asdict(self)


def _group(c: OpCost) -> str:
    if c.kind == "conv" and c.op_type not in ("DeformConv",):
        w = c.shapes[1] if len(c.shapes) > 1 else None
        if c.op_type == "QLinearConv":
            w = c.shapes[3] if len(c.shapes) > 3 else None
        if w and len(w) == 4:
            k = (w[2], w[3]) if c.op_type in ("Conv", "QLinearConv", "ConvInteger", "ConvTranspose") else (w[1], w[2])
            if k == (1, 1):
                return "conv1x1"
    if c.op_type == "GridSample":
        return "grid"
    if c.op_type == IO_OP:
        return "io"
    if c.kind == "data":
        if c.op_type in _TRANSPOSE:
            return "transpose"
        if c.op_type in _QUANT:
            return "quant"
    return c.kind


def _prod(shape) -> int:
    return int(math.prod(int(s) for s in shape)) if shape is not None else 0


def _known(shape) -> bool:
    return shape is not None and all(isinstance(s, int) and s >= 0 for s in shape)


# ---------------------------------------------------------------- ONNX

_ONNX_KIND = {
    "Conv": "conv", "ConvTranspose": "conv", "QLinearConv": "conv", "ConvInteger": "conv", "DeformConv": "conv",
    "MatMul": "matmul", "Gemm": "matmul", "QLinearMatMul": "matmul", "MatMulInteger": "matmul",
    "Einsum": "matmul",
    "Gather": "gather", "GatherElements": "gather", "GatherND": "gather", "GridSample": "gather",
    "ScatterND": "gather", "ScatterElements": "gather",
    "MaxPool": "pool", "AveragePool": "pool", "GlobalAveragePool": "pool", "GlobalMaxPool": "pool",
    "QLinearGlobalAveragePool": "pool", "QLinearAveragePool": "pool",
    "Resize": "resize", "Upsample": "resize",
    "ReduceMean": "reduce", "ReduceSum": "reduce", "ReduceMax": "reduce", "ReduceMin": "reduce",
    "ReduceProd": "reduce", "ReduceL2": "reduce", "ReduceLogSumExp": "reduce", "ReduceSumSquare": "reduce",
    "Softmax": "reduce", "LogSoftmax": "reduce", "ArgMax": "reduce", "ArgMin": "reduce", "TopK": "reduce",
    "LayerNormalization": "reduce", "InstanceNormalization": "reduce", "GroupNormalization": "reduce",
    "Reshape": "data", "Transpose": "data", "Concat": "data", "Slice": "data", "Pad": "data", "Cast": "data",
    "QuantizeLinear": "data", "DequantizeLinear": "data", "Split": "data", "Squeeze": "data",
    "Unsqueeze": "data", "Flatten": "data", "Expand": "data", "Tile": "data", "Identity": "data",
    "Shape": "data", "Constant": "data", "ConstantOfShape": "data", "DepthToSpace": "data",
    "SpaceToDepth": "data", "QLinearConcat": "data", "Range": "data", "Size": "data",
}
_ELEMENTWISE = {
    "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Exp", "Log", "Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh",
    "HardSigmoid", "HardSwish", "Clip", "Min", "Max", "Abs", "Neg", "Floor", "Ceil", "Round", "Where", "Equal",
    "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Not", "Erf", "Gelu", "Sign", "Mod",
    "Reciprocal", "Sin", "Cos", "BatchNormalization", "QLinearAdd", "QLinearMul", "QLinearSigmoid",
    "QLinearLeakyRelu", "Elu", "Selu", "Softplus", "Mish", "IsNaN", "IsInf", "Sum", "Mean", "Xor",
}
_ACTS = {"Relu", "Clip", "Sigmoid", "HardSigmoid", "LeakyRelu", "Tanh", "HardSwish", "BatchNormalization"}
_FUSE_INTO = {"Conv", "Gemm", "MatMul", "ConvTranspose"}
# ops onnxruntime runs in int8 when wrapped in Q/DQ (its QDQ selectors)
_QDQ_OPS = {"Conv", "MatMul", "Gemm", "Add", "Mul", "AveragePool", "GlobalAveragePool", "MaxPool", "Concat",
            "Reshape", "Transpose", "Resize", "Sigmoid", "LeakyRelu", "Squeeze", "Unsqueeze", "Gather",
            "Flatten", "Slice", "Split", "Softmax", "Pad", "ReduceMean", "Relu", "Clip"}
_ONNX_ELEM_SIZE = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}


def onnx_kind(node, weight_shape=None) -> str:
    t = node.op_type
    if t in ("Conv", "QLinearConv", "ConvInteger"):
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        if group > 1 and weight_shape is not None and len(weight_shape) > 1 and weight_shape[1] == 1:
            return "dwconv"
        return "conv"
    if t in _ONNX_KIND:
        return _ONNX_KIND[t]
    if t in _ELEMENTWISE:
        return "elementwise"
    return "other"


def _set_input_shapes(proto, input_shapes: dict | None, path) -> None:
    """Give dynamic graph inputs concrete sizes: ``input_shapes`` maps input name → shape (1 for a dynamic
    batch otherwise). Raises naming the input when a dynamic dimension has no size."""
    init = {t.name for t in proto.graph.initializer}
    for v in proto.graph.input:
        if v.name in init:
            continue
        dims = v.type.tensor_type.shape.dim
        want = (input_shapes or {}).get(v.name)
        if want is not None:
            if len(want) != len(dims):
                raise ArtifactError(f"{path}: input {v.name!r} has rank {len(dims)}, given shape {list(want)}")
            for d, s in zip(dims, want):
                d.Clear()
                d.dim_value = int(s)
            continue
        for i, d in enumerate(dims):
            if not d.HasField("dim_value"):
                if i == 0:
                    d.Clear()
                    d.dim_value = 1
                else:
                    raise ArtifactError(f"{path}: input {v.name!r} has a dynamic dimension {i} "
                                        f"({d.dim_param or '?'}); give its shape (input_shapes / --input-shape)")


def _shapes_by_running(proto, info: dict, path) -> None:
    """Shapes that static inference left open (Reshape from a computed shape, ...): run the graph once with
    onnxruntime on random inputs, every such tensor made an output, and read them off."""
    import numpy as np

    init = {t.name for t in proto.graph.initializer}
    missing = []
    for n in proto.graph.node:
        for o in n.output:
            if o and not _known(info.get(o, (None, 4))[0]):
                missing.append(o)
    if not missing:
        return
    try:
        import onnx
        import onnxruntime as ort
    except ImportError:
        return
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    have = {o.name for o in m.graph.output}
    for name in missing:
        if name not in have:
            m.graph.output.append(onnx.ValueInfoProto(name=name))
    feeds = {}
    dt = {1: np.float32, 10: np.float16, 11: np.float64, 2: np.uint8, 3: np.int8, 6: np.int32, 7: np.int64, 9: np.bool_}
    for v in m.graph.input:
        if v.name in init:
            continue
        tt = v.type.tensor_type
        shape = [d.dim_value for d in tt.shape.dim]
        feeds[v.name] = np.zeros(shape, dtype=dt.get(tt.elem_type, np.float32)) + (
            0.5 if tt.elem_type in (1, 10, 11) else 0)
    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        sess = ort.InferenceSession(m.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"])
        outs = sess.run(missing, feeds)
    except Exception as e:  # a graph ORT cannot run: keep the unknown shapes, warn later per node
        warnings.warn(f"{path}: could not run it to find {len(missing)} open shapes ({str(e)[:160]})", stacklevel=4)
        return
    for name, a in zip(missing, outs):
        a = np.asarray(a)
        info[name] = (list(a.shape), int(a.dtype.itemsize))


def make_static(src, dst, input_shapes: dict) -> Path:
    """Copy an ONNX model with its dynamic inputs fixed to ``input_shapes`` (for timing and costing)."""
    import os

    import onnx

    proto = onnx.load(str(src))
    _set_input_shapes(proto, input_shapes, src)
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    onnx.save(proto, str(tmp))
    os.replace(tmp, dst)
    return dst


def _onnx_costs(path: Path, input_shapes: dict | None = None) -> list[OpCost]:
    try:
        import onnx
        from onnx import numpy_helper  # noqa: F401
    except ImportError:
        raise ArtifactError("costing an ONNX graph needs the `onnx` package: pip install 'edgecv[predict]'") from None
    try:
        proto = onnx.load(str(path))
    except Exception as e:
        raise ArtifactError(f"{path}: not a readable ONNX model ({str(e)[:200]})") from None
    _set_input_shapes(proto, input_shapes, path)
    try:
        proto = onnx.shape_inference.infer_shapes(proto, strict_mode=False, data_prop=True)
    except Exception as e:
        warnings.warn(f"{path}: ONNX shape inference failed ({str(e)[:200]}); costing with the shapes stored",
                      stacklevel=3)
    g = proto.graph
    info: dict[str, tuple] = {}  # name -> (shape, elem_size)

    def _vi(v):
        tt = v.type.tensor_type
        if not tt.HasField("shape"):
            return None, _ONNX_ELEM_SIZE.get(tt.elem_type, 4)
        shape = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        return shape, _ONNX_ELEM_SIZE.get(tt.elem_type, 4)

    for v in list(g.input) + list(g.value_info) + list(g.output):
        info[v.name] = _vi(v)
    _shapes_by_running(proto, info, path)
    const = set()
    init_names = {t.name for t in g.initializer}
    for init in g.initializer:
        info[init.name] = (list(init.dims), _ONNX_ELEM_SIZE.get(init.data_type, 4))
        const.add(init.name)
    producer = {}
    consumers: dict[str, list] = {}
    for n in g.node:
        for o in n.output:
            producer[o] = n
        for i in n.input:
            if i:
                consumers.setdefault(i, []).append(n)
    # constant propagation (what ORT folds at load time)
    folded = set()
    for n in g.node:
        ins = [i for i in n.input if i]
        if n.op_type in ("Constant", "ConstantOfShape", "Range", "Size") and all(i in const for i in ins):
            folded.add(id(n))
        elif n.op_type == "Shape" and _known(info.get(n.input[0], (None,))[0]):
            folded.add(id(n))
        elif ins and all(i in const for i in ins):
            folded.add(id(n))
        if id(n) in folded:
            const.update(o for o in n.output if o)

    def shape(name):
        return info.get(name, (None, 4))[0]

    def esize(name):
        return info.get(name, (None, 4))[1]

    # QDQ: which compute ops run in int8
    def from_dq(name):
        p = producer.get(name)
        return p is not None and p.op_type == "DequantizeLinear"

    int8_ops = set()
    for n in g.node:
        if n.op_type in _QDQ_OPS and id(n) not in folded:
            act_ins = [i for i in n.input if i and i not in const]
            if act_ins and all(from_dq(i) for i in act_ins):
                outs = consumers.get(n.output[0], [])
                if n.op_type in ("Conv", "MatMul", "Gemm") or (outs and all(c.op_type == "QuantizeLinear"
                                                                            for c in outs)):
                    int8_ops.add(id(n))
    fused = set(folded)
    # ORT's ReluQuantFusion / ClipQuantFusion: DQ → Relu/Clip → Q folds the activation into the Q's range,
    # but the DQ → Q pair it leaves requantises (the scales differ) and runs (seen in ORT's node profile)
    requant = {id(n) for n in g.node if n.op_type in ("Relu", "Clip") and id(n) in int8_ops}
    fused.update(requant)
    for n in g.node:
        if n.op_type == "DequantizeLinear":
            outs = consumers.get(n.output[0], [])
            if n.input[0] in const or (outs and all(id(c) in int8_ops and id(c) not in requant for c in outs)):
                fused.add(id(n))
        elif n.op_type == "QuantizeLinear":
            p = producer.get(n.input[0])
            if p is not None and id(p) not in requant and (id(p) in int8_ops or (p.op_type in _ACTS
                                                                                  and id(p) in fused)):
                fused.add(id(n))
        elif n.op_type in _ACTS or (n.op_type == "Add" and any(i in const for i in n.input)):
            act_in = [i for i in n.input if i and i not in const]
            if len(act_in) == 1:
                p = producer.get(act_in[0])
                if (p is not None and p.op_type in _FUSE_INTO and len(consumers.get(act_in[0], [])) == 1
                        and (n.op_type != "Add" or p.op_type in ("MatMul", "Gemm"))):
                    fused.add(id(n))
                    if id(p) in int8_ops:
                        int8_ops.add(id(n))
    # ORT removes Q→DQ pairs around a fused activation in QDQ graphs (Relu/Clip between Conv and Q)
    costs = []
    unknown_nodes = []
    for idx, n in enumerate(g.node):
        name = n.name or f"{n.op_type}_{idx}"
        ins = [i for i in n.input if i]
        outs = [o for o in n.output if o]
        in_shapes = [shape(i) for i in ins]
        out_shapes = [shape(o) for o in outs]
        wshape = None
        if n.op_type in ("Conv", "ConvInteger", "DeformConv") and len(ins) > 1:
            wshape = shape(ins[1])
        elif n.op_type == "QLinearConv" and len(ins) > 3:
            wshape = shape(ins[3])
        kind = onnx_kind(n, wshape)
        c = OpCost(name, n.op_type, kind, fused=id(n) in fused, int8=id(n) in int8_ops,
                   shapes=[list(s) if s else None for s in in_shapes + out_shapes])
        if c.fused:
            costs.append(c)
            continue
        unknown = [t for t, s in zip(ins + outs, in_shapes + out_shapes) if not _known(s)]
        if unknown:
            unknown_nodes.append(f"node {name!r} ({n.op_type}, tensor {unknown[0]!r})")
            c.note = f"unknown shape of {unknown[0]}"
            costs.append(c)
            continue
        q = c.int8
        c.half = bool(outs) and esize(outs[0]) == 2 and not q

        def nbytes(t, s, _q=q):
            return _prod(s) * (1 if _q and esize(t) == 4 else esize(t))

        weights = [(t, s) for t, s in zip(ins, in_shapes) if t in const]
        acts = [(t, s) for t, s in zip(ins, in_shapes) if t not in const]
        # weights of an int8 op come through a DequantizeLinear from an int8 initialiser
        wbytes = sum(nbytes(t, s) for t, s in weights)
        c.params = sum(_prod(s) for _, s in weights)
        c.bytes = float(sum(nbytes(t, s) for t, s in acts) + wbytes + sum(nbytes(t, s) for t, s in
                                                                          zip(outs, out_shapes)))
        out_el = _prod(out_shapes[0]) if out_shapes else 0
        t = n.op_type
        if t in ("Conv", "ConvInteger", "QLinearConv", "DeformConv"):
            w = wshape
            c.flops = 2.0 * out_el * _prod(w[1:])
            if t == "DeformConv":  # bilinear sampling into an im2col buffer (4 corners, weights, mask)
                col = _prod(out_shapes[0][2:]) * _prod(w[1:]) * (w[0] and 1) * _prod(in_shapes[0][:1])
                c.flops += 8.0 * col
                c.bytes += 8.0 * col * esize(outs[0])
        elif t == "ConvTranspose":
            w = shape(ins[1])
            c.flops = 2.0 * _prod(in_shapes[0]) * _prod(w[1:])
        elif t in ("MatMul", "QLinearMatMul", "MatMulInteger", "Gemm"):
            a = in_shapes[0] if t != "QLinearMatMul" else in_shapes[0]
            k = a[-1] if a else 0
            if t == "Gemm" and any(x.name == "transA" and x.i for x in n.attribute):
                k = a[0]
            c.flops = 2.0 * out_el * k
        elif t == "Einsum":
            c.flops = 2.0 * max(out_el, max((_prod(s) for s in in_shapes), default=0))
        elif kind == "gather":
            c.flops = (8.0 if t == "GridSample" else 1.0) * out_el
            if t in ("Gather", "GatherElements", "GatherND"):  # only the gathered rows are read
                c.bytes = float(2 * out_el * esize(outs[0]) + sum(nbytes(x, s) for x, s in zip(ins[1:],
                                                                                                in_shapes[1:])))
        elif kind == "pool":
            ks = next((list(a.ints) for a in n.attribute if a.name == "kernel_shape"), None)
            c.flops = float(_prod(in_shapes[0]) if ks is None else out_el * _prod(ks))
        elif kind == "resize":
            mode = next((a.s.decode() for a in n.attribute if a.name == "mode"), "nearest")
            c.flops = (4.0 if mode != "nearest" else 1.0) * out_el
        elif kind == "reduce":
            c.flops = float(_prod(in_shapes[0]) * (3 if "Softmax" in t or "Normalization" in t else 1))
        elif kind == "elementwise":
            c.flops = float(out_el)
        elif kind == "data":  # data moves: the "flops" slot counts elements moved (int8 and fp32 alike)
            c.flops = float(sum(_prod(s) for x, s in zip(ins, in_shapes) if x not in const) + out_el)
        costs.append(c)
    io = [info.get(v.name, (None, 4)) for v in list(g.input) + list(g.output) if v.name not in init_names]
    costs.append(OpCost("graph_io", IO_OP, "data", flops=float(sum(_prod(s) for s, _ in io if _known(s))),
                        bytes=float(sum(_prod(s) * e for s, e in io if _known(s)))))
    if unknown_nodes:
        warnings.warn(f"{path}: {len(unknown_nodes)} node(s) whose shapes cannot be inferred are costed as 0 "
                      f"(first: {unknown_nodes[0]})", stacklevel=3)
    return costs


# ---------------------------------------------------------------- TFLite

_TFL_KIND = {
    "CONV_2D": "conv", "TRANSPOSE_CONV": "conv", "CONV_3D": "conv", "DEPTHWISE_CONV_2D": "dwconv",
    "FULLY_CONNECTED": "matmul", "BATCH_MATMUL": "matmul",
    "GATHER": "gather", "GATHER_ND": "gather", "SCATTER_ND": "gather",
    "AVERAGE_POOL_2D": "pool", "MAX_POOL_2D": "pool", "L2_POOL_2D": "pool",
    "RESIZE_BILINEAR": "resize", "RESIZE_NEAREST_NEIGHBOR": "resize",
    "MEAN": "reduce", "SUM": "reduce", "REDUCE_MAX": "reduce", "REDUCE_MIN": "reduce", "REDUCE_PROD": "reduce",
    "SOFTMAX": "reduce", "LOG_SOFTMAX": "reduce", "ARG_MAX": "reduce", "ARG_MIN": "reduce",
    "L2_NORMALIZATION": "reduce",
    "RESHAPE": "data", "TRANSPOSE": "data", "CONCATENATION": "data", "SLICE": "data", "STRIDED_SLICE": "data",
    "PAD": "data", "PADV2": "data", "MIRROR_PAD": "data", "CAST": "data", "QUANTIZE": "data",
    "DEQUANTIZE": "data", "SPLIT": "data", "SPLIT_V": "data", "PACK": "data", "UNPACK": "data",
    "SQUEEZE": "data", "EXPAND_DIMS": "data", "TILE": "data", "BROADCAST_TO": "data", "SHAPE": "data",
    "DEPTH_TO_SPACE": "data", "SPACE_TO_DEPTH": "data",
}
_TFL_ELEMENTWISE = {
    "ADD", "SUB", "MUL", "DIV", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LEAKY_RELU", "PRELU", "LOGISTIC",
    "TANH", "HARD_SWISH", "MAXIMUM", "MINIMUM", "SQRT", "RSQRT", "EXP", "LOG", "POW", "ABS", "NEG", "SQUARE",
    "SQUARED_DIFFERENCE", "FLOOR", "CEIL", "ROUND", "SELECT", "SELECT_V2", "LESS", "GREATER", "EQUAL",
    "NOT_EQUAL", "LESS_EQUAL", "GREATER_EQUAL", "LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT", "GELU", "ELU",
    "FLOOR_DIV", "FLOOR_MOD", "SIN", "COS", "ADD_N", "SIGN",
}


def _tflite_interpreter(path: Path):
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        kw = {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter, OpResolverType
            kw = {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
        except ImportError:
            raise ArtifactError("costing a TFLite graph needs ai-edge-litert (or tflite-runtime)") from None
    try:
        return Interpreter(model_path=str(path), **kw)
    except (ValueError, RuntimeError) as e:
        msg = " ".join(str(e).split())[:300]
        raise ArtifactError(f"LiteRT cannot read {path}: {msg}") from None


def _tflite_costs(path: Path) -> list[OpCost]:
    it = _tflite_interpreter(path)
    tensors = {}
    for d in it.get_tensor_details():
        tensors[d["index"]] = (tuple(int(s) for s in d["shape"]), int(__import__("numpy").dtype(d["dtype"]).itemsize))
    ops = it._get_ops_details()
    graph_in = {d["index"] for d in it.get_input_details()}
    produced = {int(o) for op in ops for o in op["outputs"]}
    const = {i for i in tensors if i not in produced and i not in graph_in}
    consumers: dict[int, list] = {}
    producer = {}
    for op in ops:
        for o in op["outputs"]:
            producer[int(o)] = op
        for i in op["inputs"]:
            if i >= 0:
                consumers.setdefault(int(i), []).append(op)
    costs = []
    for op in ops:
        t = op["op_name"]
        ins = [int(i) for i in op["inputs"] if i >= 0]
        outs = [int(o) for o in op["outputs"] if o >= 0]
        name = f"{t}_{op['index']}"
        kind = _TFL_KIND.get(t, "elementwise" if t in _TFL_ELEMENTWISE else "other")
        sh = [tensors.get(i, ((), 4)) for i in ins]
        osh = [tensors.get(o, ((), 4)) for o in outs]
        c = OpCost(name, t, kind, shapes=[list(s) for s, _ in sh + osh])
        if ins and all(i in const for i in ins):  # e.g. DEQUANTIZE of fp16 weights: folded at load time
            c.fused = True
            const.update(outs)
            costs.append(c)
            continue
        c.int8 = any(e == 1 for s, e in sh + osh if s)
        c.params = sum(_prod(tensors[i][0]) for i in ins if i in const)
        c.bytes = float(sum(_prod(s) * e for s, e in sh + osh))
        out_el = _prod(osh[0][0]) if osh else 0
        if t == "CONV_2D" or t == "CONV_3D":
            c.flops = 2.0 * out_el * _prod(sh[1][0][1:])
        elif t == "DEPTHWISE_CONV_2D":
            w = sh[1][0]
            c.flops = 2.0 * out_el * _prod(w[1:-1])
        elif t == "TRANSPOSE_CONV":
            w = sh[1][0]
            c.flops = 2.0 * _prod(sh[2][0]) * _prod(w[:-1])
        elif t == "FULLY_CONNECTED":
            c.flops = 2.0 * out_el * (sh[1][0][-1] if sh[1][0] else 0)
        elif t == "BATCH_MATMUL":  # K: the dim of A that is not M (A may be stored transposed, adj_x)
            a, o = sh[0][0], osh[0][0] if osh else ()
            k = (a[-1] if len(o) < 2 or a[-2] == o[-2] else a[-2]) if len(a) >= 2 else (a[-1] if a else 0)
            c.flops = 2.0 * out_el * k
        elif kind == "gather":
            c.flops = float(out_el)
            c.bytes = float(2 * out_el * osh[0][1] + sum(_prod(s) * e for s, e in sh[1:]))
        elif kind == "pool":
            c.flops = float(_prod(sh[0][0]))
        elif kind == "resize":
            c.flops = (4.0 if t == "RESIZE_BILINEAR" else 1.0) * out_el
        elif kind == "reduce":
            c.flops = float(_prod(sh[0][0]) * (3 if "SOFTMAX" in t else 1))
        elif kind == "elementwise":
            c.flops = float(out_el)
        elif kind == "data":  # data moves: the "flops" slot counts elements moved (int8 and fp32 alike)
            c.flops = float(sum(_prod(s) for i, (s, _) in zip(ins, sh) if i not in const) + out_el)
        if t in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):  # in place in XNNPACK/LiteRT: no data moves
            c.bytes = c.flops = 0.0
        costs.append(c)
    io = [tensors[d["index"]] for d in it.get_input_details() + it.get_output_details() if d["index"] in tensors]
    costs.append(OpCost("graph_io", IO_OP, "data", flops=float(sum(_prod(s) for s, _ in io)),
                        bytes=float(sum(_prod(s) * e for s, e in io))))
    return costs


def op_costs(path, input_shapes: dict | None = None) -> list[OpCost]:
    """Per-op costs of an ``.onnx`` or ``.tflite`` artifact (fused/folded ops are listed with ``fused=True``).

    ``input_shapes`` (ONNX) fixes dynamic inputs: {input name: shape}; a dynamic batch alone becomes 1.
    """
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"artifact {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        costs = _onnx_costs(path, input_shapes)
    elif suffix == ".tflite":
        costs = _tflite_costs(path)
    else:
        raise ArtifactError(f"{path}: unknown artifact type {suffix!r} (expected .onnx or .tflite)")
    for c in costs:
        c.group = _group(c)
        c.narrow = _narrow(c)
    return costs


def _narrow(c: OpCost) -> bool:
    if c.kind not in ("conv", "matmul") or c.op_type == IO_OP or len(c.shapes) < 2:
        return False
    w = c.shapes[3] if c.op_type == "QLinearConv" and len(c.shapes) > 3 else c.shapes[1]
    if not w or len(w) < 2:
        return False
    if c.op_type in ("Conv", "QLinearConv", "ConvInteger", "DeformConv"):
        cin, cout = w[1], w[0]
    elif c.op_type in ("CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "CONV_3D"):
        cin, cout = w[-1], w[0]
    else:  # MatMul / Gemm / BATCH_MATMUL: K and N of B
        cin, cout = w[-2], w[-1]
    return min(cin, cout) < NARROW


def graph_precision(costs: list[OpCost]) -> str:
    """``int8`` when most of the conv/matmul FLOPs run in int8, ``fp16`` when they run in fp16 (ONNX fp16
    graphs), else ``fp32`` (TFLite fp16 weights are dequantised once at load: fp32)."""
    heavy = [c for c in costs if c.kind in ("conv", "dwconv", "matmul") and not c.fused]
    if not heavy:
        heavy = [c for c in costs if not c.fused]
    q = sum(c.flops + 1 for c in heavy if c.int8)
    tot = sum(c.flops + 1 for c in heavy)
    if tot and q / tot > 0.5:
        return "int8"
    half = sum(c.flops + 1 for c in heavy if c.half)
    return "fp16" if tot and half / tot > 0.5 else "fp32"


def summarize(costs: list[OpCost], by: str = "kind") -> dict:
    """Totals of the ops that run, per kind (``by="kind"``) or fit group (``by="group"``): {ops, flops, bytes,
    bytes_big (bytes beyond CACHE_BYTES per op), flops_narrow (FLOPs of narrow convs/matmuls)}."""
    out = {k: {"ops": 0, "flops": 0.0, "bytes": 0.0, "bytes_big": 0.0, "flops_narrow": 0.0}
           for k in (KINDS if by == "kind" else GROUPS)}
    for c in costs:
        if c.fused:
            continue
        d = out[c.kind if by == "kind" else (c.group or c.kind)]
        d["ops"] += 1
        d["flops"] += c.flops
        d["bytes"] += c.bytes
        d["bytes_big"] += max(0.0, c.bytes - CACHE_BYTES)
        d["flops_narrow"] += c.flops if c.narrow else 0.0
    return out

"""PyTorch → ONNX (torch.onnx dynamo exporter, opset 19), simplification, checks, int8 QDQ."""
from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import numpy as np
import torch

from edgecv.ops import ops_mode

from .errors import ExportError, UnsupportedOpError, raise_if_interrupted

OPSET = 19
# Ops that are not plain arithmetic: the ones runtimes may lack (reported as "custom ops").
SPECIAL_OPS = {"DeformConv", "GridSample"}


@contextlib.contextmanager
def _quiet():
    """The dynamo exporter prints progress lines and warnings; keep the CLI readable."""
    buf = io.StringIO()
    level = logging.getLogger("torch").level
    logging.getLogger("torch").setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(buf):
            yield buf
    finally:
        logging.getLogger("torch").setLevel(level)


def find_unsupported_ops(model: torch.nn.Module, args: tuple) -> list[str]:
    """Ops in the traced graph that the ONNX exporter has no rule for, with the module they sit in."""
    from torch.onnx._internal.exporter._registration import ONNXRegistry

    registry = ONNXRegistry.from_torchlib()
    ep = torch.export.export(model, args, strict=False).run_decompositions()
    found = []
    for node in ep.graph.nodes:
        if node.op != "call_function" or not isinstance(node.target, torch._ops.OpOverload):
            continue
        if registry.get_decomps(node.target):
            continue
        stack = node.meta.get("nn_module_stack") or {}
        where = "the top-level forward"
        if stack:
            path, cls = list(stack.values())[-1]
            cls_name = getattr(cls, "__name__", str(cls).rsplit(".", 1)[-1].rstrip("'>"))
            where = f"module {path or '<root>'} ({cls_name})"
        found.append(f"{node.target.name()} in {where}")
    return sorted(set(found))


def torch_to_onnx(model, args: tuple, input_names, output_names, ops: str, out_path: Path) -> None:
    """Export with the given custom-op lowering, then simplify and check the graph."""
    import onnx

    with ops_mode(ops, blend="matmul"), _quiet():
        try:
            prog = torch.onnx.export(model, args, dynamo=True, opset_version=OPSET, input_names=list(input_names),
                                     output_names=list(output_names), optimize=True, verify=False,
                                     report=False)
        except Exception as e:
            raise_if_interrupted(e)  # Ctrl-C inside the exporter: an interrupt, not "export failed"
            try:
                bad = find_unsupported_ops(model, args)
            except Exception:
                bad = []
            if bad:
                raise UnsupportedOpError(f"no ONNX export rule for: {'; '.join(bad)}") from None
            raise ExportError(f"torch.onnx.export failed: {str(e).strip().splitlines()[0][:400]}") from None
    proto = prog.model_proto
    proto = simplify(proto)
    onnx.checker.check_model(proto, full_check=True)
    proto = onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    onnx.save(proto, str(out_path))


def simplify(proto):
    """onnxslim: constant folding, dead-node and redundant-reshape removal."""
    import onnxslim

    with _quiet():
        try:
            return onnxslim.slim(proto)
        except Exception as e:  # a failed simplification is not fatal: keep the exporter's graph
            logging.getLogger(__name__).warning("onnxslim failed (%s); keeping the unsimplified graph", e)
            return proto


def to_fp16(src: Path, dst: Path) -> None:
    """fp16 weights and activations, fp32 graph inputs/outputs (onnxruntime's float16 converter)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    proto = onnx.load(str(src))
    proto = convert_float_to_float16(proto, keep_io_types=True, disable_shape_infer=False,
                                     op_block_list=["DeformConv", "GridSample", "Floor", "Gather"])
    onnx.save(proto, str(dst))


class _Reader:
    def __init__(self, feeds: list[dict]):
        self.it = iter(feeds)

    def get_next(self):
        return next(self.it, None)


def sampling_nodes(proto) -> list[str]:
    """Nodes that compute sampling coordinates or gather samples (warp/DCN): kept in float for int8."""
    return [n.name for n in proto.graph.node if n.op_type in ("Gather", "GridSample", "DeformConv", "Floor")]


COMPUTE_OPS = ("Conv", "MatMul", "Gemm", "ConvTranspose")


def stem_convs(proto, max_in: int = 4) -> list[str]:
    """Dense convs on (almost) raw pixels (≤ ``max_in`` input channels): kept in float for int8.
    onnxruntime's x86 QLinearConv runs them through im2col, 2–2.5× slower than its fp32 NCHWc kernel
    (spm-lite's 3→16 stem at 128²: 0.79 vs 0.32 ms), and they are where 8-bit inputs lose the most."""
    weights = {t.name: tuple(t.dims) for t in proto.graph.initializer}
    out = []
    for n in proto.graph.node:
        if n.op_type == "Conv" and len(n.input) > 1 and n.input[1] in weights:
            dims = weights[n.input[1]]
            group = next((a.i for a in n.attribute if a.name == "group"), 1)
            if len(dims) == 4 and group == 1 and dims[1] <= max_in:
                out.append(n.name)
    return out


def _output_walk(proto) -> list:
    """Nodes met walking back from the graph outputs through shape and elementwise ops, stopping at (and
    including) the nearest compute nodes."""
    by_output = {o: n for n in proto.graph.node for o in n.output}
    found, seen = [], set()
    stack = [o.name for o in proto.graph.output]
    while stack:
        node = by_output.get(stack.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        found.append(node)
        if node.op_type not in COMPUTE_OPS:
            stack.extend(node.input)
    return found


def output_producers(proto) -> list[str]:
    """The compute nodes (Conv/MatMul/Gemm) nearest to each graph output: the layers ``float_outputs``
    keeps out of int8."""
    return [n.name for n in _output_walk(proto) if n.op_type in COMPUTE_OPS]


def _constants(proto) -> set[str]:
    """Tensors fixed at export: initializers and Constant outputs (of the float graph, before quantisation)."""
    const = {t.name for t in proto.graph.initializer}
    return const | {o for n in proto.graph.node if n.op_type == "Constant" for o in n.output}


def correlation_nodes(proto) -> list[str]:
    """Compute nodes whose weights are graph tensors, not constants: a Siamese tracker's correlation with
    the template features (a Conv whose kernel is an input)."""
    const = _constants(proto)
    return [n.name for n in proto.graph.node
            if n.op_type in COMPUTE_OPS and len(n.input) > 1 and n.input[1] not in const]


def output_tail(proto) -> list[str]:
    """Every node on the way back from the graph outputs to their nearest compute nodes (those included):
    the elementwise ops after the last layers (a weighted sum of score maps, a resize) as well."""
    return [n.name for n in _output_walk(proto)]


DEFAULT_INT8_OPS = ("Conv", "MatMul", "Gemm", "Add", "GlobalAveragePool", "ReduceMean", "Clip", "Relu")


def quantize_int8(src: Path, dst: Path, calib_feeds: list[dict], float_outputs: bool = False,
                  op_types=None, float_correlation: bool = False) -> str:
    """Static QDQ int8: uint8 activations, int8 per-channel weights, calibrated on real frames
    (percentile ranges). Returns the calibration method used.

    Only Conv/MatMul/Gemm (and what fuses with them) are quantised; the coordinate arithmetic and
    gathers of warp/DCN stay in float, where 8 bits would move samples by whole pixels. onnxruntime's
    percentile calibrator cannot histogram a tensor whose range is (almost) zero; for such graphs the
    ranges fall back to min-max, and the returned method says so. ``float_outputs`` keeps the layers
    that produce the outputs in float (for a tracker: the neck that makes the template features and
    the correlation with them, whose 8-bit rounding would blur the score map). ``float_correlation`` also
    keeps the correlations themselves (:func:`correlation_nodes`) and everything after the output layers
    (:func:`output_tail`) in float: without it a tracker's score map leaves the graph in 256 levels, and a
    near-tie between the target and a look-alike flips on that rounding. ``op_types`` replaces the
    quantised op types (only those are calibrated, which also bounds calibration memory).
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = dst.with_name(dst.name + ".pre.onnx")
    try:
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        proto = onnx.load(str(pre))
        # percentile (99.999) ranges: top-1 agreement 0.925 vs 0.900 for min-max and entropy on
        # mnv2-dcn's held-out check frames
        for method in (CalibrationMethod.Percentile, CalibrationMethod.MinMax):
            try:
                with _quiet():
                    quantize_static(str(pre), str(dst), _Reader(calib_feeds), quant_format=QuantFormat.QDQ,
                                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                    per_channel=True, calibrate_method=method,
                                    op_types_to_quantize=list(op_types or DEFAULT_INT8_OPS),
                                    nodes_to_exclude=sampling_nodes(proto) + stem_convs(proto) + (
                                        output_producers(proto) if float_outputs else []) + (
                                        correlation_nodes(proto) + output_tail(proto) if float_correlation
                                        else []),
                                    extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
                return "percentile-99.999" if method == CalibrationMethod.Percentile else "minmax"
            except ValueError as e:
                if method != CalibrationMethod.Percentile or "bins" not in str(e):
                    raise
    finally:
        pre.unlink(missing_ok=True)


def onnx_op_counts(path: Path) -> dict[str, int]:
    import onnx

    proto = onnx.load(str(path))
    counts: dict[str, int] = {}
    for n in proto.graph.node:
        key = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def onnx_quant_info(path: Path) -> dict:
    import onnx

    proto = onnx.load(str(path))
    return {"qdq_pairs": sum(1 for n in proto.graph.node if n.op_type == "QuantizeLinear"),
            "initializer_dtypes": sorted({onnx.TensorProto.DataType.Name(t.data_type) for t in
                                          proto.graph.initializer})}


def np_feeds(feeds: list[dict]) -> list[dict]:
    return [{k: v.detach().cpu().numpy().astype(np.float32) for k, v in f.items()} for f in feeds]


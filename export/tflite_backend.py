"""PyTorch → TFLite (LiteRT) with litert-torch: fp32, fp16 (weights), int8 (PT2E static)."""
from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path

import torch

from edgecv.ops import DeformConv2d, FlowWarp, ops_mode

from .errors import ExportError, raise_if_interrupted


@contextlib.contextmanager
def _quiet():
    buf = io.StringIO()
    old = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    try:
        with contextlib.redirect_stdout(buf):
            yield
    finally:
        if old is None:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
        else:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = old


def _import():
    # torchao warns about CUDA-only kernels it cannot load on a CPU machine; not our concern here
    logging.getLogger("torchao").setLevel(logging.ERROR)
    try:
        import litert_torch
    except ImportError:
        raise ExportError("TFLite export needs litert-torch: `pip install edgecv[export]`") from None
    logging.getLogger("absl").setLevel(logging.ERROR)
    return litert_torch


def torch_to_tflite(model, args: tuple, out_path: Path) -> None:
    """fp32 TFLite; custom ops always take the portable (gather) form."""
    litert_torch = _import()
    with ops_mode("portable", blend="madd"), _quiet():
        try:
            edge = litert_torch.convert(model, args)
        except Exception as e:
            raise_if_interrupted(e)
            raise ExportError(f"litert-torch conversion failed: {str(e).strip().splitlines()[0][:400]}") from None
        edge.export(str(out_path))


def tflite_fp16(src: Path, dst: Path) -> None:
    """fp16 weights with DEQUANTIZE, the standard LiteRT fp16 model (GPU delegates run it in fp16)."""
    from ai_edge_quantizer import quantizer

    recipe = [{"regex": ".*", "operation": "*", "algorithm_key": "float_casting",
               "op_config": {"weight_tensor_config": {"num_bits": 16, "dtype": "FLOAT", "granularity": "TENSORWISE"},
                             "compute_precision": "FLOAT", "explicit_dequantize": True, "skip_checks": False,
                             "min_weight_elements": 0}}]
    with _quiet():
        q = quantizer.Quantizer(str(src))
        q.load_quantization_recipe(recipe)
        q.quantize().export_model(str(dst), overwrite=True)


def _hardtanh_quantizer():
    """litert-torch's PT2E quantizer, plus conv → ReLU6 as one quantised pattern.

    Why: its conv+activation pattern knows ``relu`` only. ReLU6 (``hardtanh(x, 0, 6)``, every EfficientNet-Lite and
    MobileNet block) is an op that *shares* its input's quantisation, so the conv's output was observed before the
    clamp: on the Lite0 trunk's first depthwise conv that range is tens of units wide below zero, which leaves a few
    int8 steps for the [0, 6] that passes (a trunk graph's int8 cosine to PyTorch fell from 0.998 after the stem to
    0.77 after the first block). Observed after the clamp, as TFLite's CONV_2D with a fused RELU6 computes it, the
    whole int8 range covers [0, 6]. It hooks litert-torch's annotation internals (litert-torch 0.10): should they
    change, the export fails with an ExportError or its parity check reports the loss."""
    from litert_torch.quantize import pt2e_quantizer_utils as qu
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation

    convs = (torch.ops.aten.conv1d.default, torch.ops.aten.conv2d.default, torch.ops.aten.convolution.default)
    clamps = (torch.ops.aten.hardtanh.default, torch.ops.aten.hardtanh_.default)

    def annotate_conv_hardtanh(gm, config, filter_fn=None):
        for clamp in gm.graph.nodes:
            if clamp.op != "call_function" or clamp.target not in clamps:
                continue
            conv = clamp.args[0]
            if not isinstance(conv, torch.fx.Node) or conv.op != "call_function" or conv.target not in convs \
                    or len(conv.users) != 1:
                continue
            qspecs = {conv.args[0]: qu.get_input_act_qspec(config), conv.args[1]: qu.get_weight_qspec(config)}
            part = [clamp, conv, conv.args[1]]
            bias = conv.args[2] if len(conv.args) > 2 else None
            if isinstance(bias, torch.fx.Node):
                qspecs[bias] = qu.get_bias_qspec(config)
                part.append(bias)
            if qu._is_annotated(part) or (filter_fn and not all(filter_fn(n) for n in part)):
                continue
            conv.meta["quantization_annotation"] = QuantizationAnnotation(input_qspec_map=qspecs, _annotated=True)
            clamp.meta["quantization_annotation"] = QuantizationAnnotation(
                output_qspec=qu.get_output_act_qspec(config), _annotated=True)
            qu._mark_nodes_as_annotated(part)

    class Quantizer(PT2EQuantizer):
        def _annotate_all_static_patterns(self, model, quantization_config, filter_fn=None):
            if quantization_config is not None and quantization_config.input_activation is not None:
                annotate_conv_hardtanh(model, quantization_config, filter_fn)
            return super()._annotate_all_static_patterns(model, quantization_config, filter_fn)

    return Quantizer()


def torch_to_tflite_int8(model, args: tuple, calib: list[tuple], out_path: Path, float_modules: tuple = ()) -> None:
    """Static int8 via PT2E: per-channel int8 weights, int8 activations, calibrated on real frames.

    Warp and DCN modules are left unannotated, so their coordinate arithmetic and sampling stay in
    float (an int8 coordinate would move samples by whole pixels), and so are ``float_modules`` (a model's
    own choice, e.g. a soft correspondence whose sharp softmax 8 bits would flatten); float I/O.
    """
    litert_torch = _import()
    from litert_torch.quantize.pt2e_quantizer import get_symmetric_quantization_config
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    with ops_mode("portable", blend="madd"), _quiet():
        try:
            quantizer = _hardtanh_quantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
            for cls in (FlowWarp, DeformConv2d, *float_modules):
                # torch.export records module types as qualified names (older releases: the classes)
                quantizer.set_module_type(cls, None).set_module_type(f"{cls.__module__}.{cls.__qualname__}", None)
            gm = torch.export.export(model, args, strict=False).module()
            gm = prepare_pt2e(gm, quantizer)
            with torch.no_grad():
                for a in calib:
                    gm(*a)
            gm = convert_pt2e(gm, fold_quantize=False)
            for mod in gm.modules():  # the graph was captured in eval mode; say so to the converter
                mod.training = False
            edge = litert_torch.convert(gm, args, quant_config=QuantConfig(pt2e_quantizer=quantizer))
        except Exception as e:
            raise_if_interrupted(e)
            raise ExportError(f"litert-torch int8 conversion failed: {str(e).strip().splitlines()[0][:400]}") from None
        edge.export(str(out_path))


def tflite_op_counts(path: Path) -> dict[str, int]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    # Without the default XNNPACK delegate, so the model's own ops are listed, not DELEGATE nodes.
    it = Interpreter(model_path=str(path),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    counts: dict[str, int] = {}
    for op in it._get_ops_details():
        counts[op["op_name"]] = counts.get(op["op_name"], 0) + 1
    return dict(sorted(counts.items()))


def litert_default_convert(model, args: tuple, out_path: Path) -> None:
    """litert-torch's own lowering of whatever the model calls (benchmark reference only)."""
    litert_torch = _import()
    with ops_mode("standard"), _quiet():
        litert_torch.convert(model, args).export(str(out_path))

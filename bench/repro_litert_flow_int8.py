"""Minimal reproductions of the two litert-torch int8 (PT2E) failures that kept DFF's flow graph off LiteRT int8,
and the workarounds edgecv uses (issue 25). Prints one line per case: converts or the error.

1. An int scalar in the graph (``x * 2``): torch.export keeps it as an int64 constant, the PT2E quantizer puts a
   histogram observer on it, and calibration fails with ``"histogram_cpu" not implemented for 'Long'``.
   Workaround: a float scalar (``x * 2.0``).
2. DFF's flow net with its coarse-to-fine residual (``up(coarse flow) + conv(features)``) quantised: litert-torch's
   layout pass gives that add an NHWC and an NCHW operand (``Attempting to broadcast a dimension of length 2``).
   Workaround: the upsampling as its own module, left unannotated (kept in float): ``dff.FlowUpsample``. (A
   smaller stand-in of the residual met a different converter error, on ``tfl.pad``; the real net is used.)

    python bench/repro_litert_flow_int8.py
"""
from __future__ import annotations

import torch
from torch import nn


class Doubling(nn.Module):
    """Case 1: a conv whose output is doubled by an int or a float scalar."""

    def __init__(self, scale):
        super().__init__()
        self.conv, self.scale = nn.Conv2d(8, 8, 1), scale

    def forward(self, x):
        return self.conv(x) * self.scale


class FlowNet(nn.Module):
    """Case 2: DFF's light flow net as exported (key, current → flow, scale), untrained weights suffice."""

    def __init__(self):
        super().__init__()
        from edgecv.models.dff import LightFlow

        self.net = LightFlow()

    def forward(self, x):
        return self.net(x[:, :3], x[:, 3:])


def convert_int8(model, x, float_types=()):
    from litert_torch import convert
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from edgecv.ops import FlowWarp, ops_mode

    q = PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    for cls in (FlowWarp, *float_types):  # the warp's sampling stays float in every edgecv int8 export
        q.set_module_type(cls, None).set_module_type(f"{cls.__module__}.{cls.__qualname__}", None)
    try:
        with ops_mode("portable", blend="madd"):  # as edgecv's LiteRT export runs it
            gm = prepare_pt2e(torch.export.export(model.eval(), (x,), strict=False).module(), q)
            gm(x)
            gm = convert_pt2e(gm, fold_quantize=False)
            convert(gm, (x,), quant_config=QuantConfig(pt2e_quantizer=q))
        return "converts"
    except Exception as e:
        lines = [ln for ln in str(e).strip().splitlines() if ln.strip()]
        return "fails: " + (lines[0][:150] if lines else type(e).__name__)


def main():
    from edgecv.models.dff import FlowUpsample

    torch.manual_seed(0)
    x = torch.rand(1, 8, 32, 40)
    print("1. conv(x) * 2 (int scalar):          ", convert_int8(Doubling(2), x))
    print("   conv(x) * 2.0 (float scalar):      ", convert_int8(Doubling(2.0), x))
    frames = torch.rand(1, 6, 256, 320)
    print("2. flow net, all quantised:           ", convert_int8(FlowNet(), frames))
    print("   flow net, FlowUpsample kept float: ", convert_int8(FlowNet(), frames, float_types=(FlowUpsample,)))


if __name__ == "__main__":
    main()

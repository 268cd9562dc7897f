"""The reference networks that published device figures were measured on, as graphs for the latency
predictor: MobileNetV2 1.0 (224²), MobileNetV1 1.0 (224²) and ResNet-50 (224²). Only their structure
matters (op kinds, FLOPs, bytes moved), so the weights are random; they are never shipped as models.

``write_reference_costs(out)`` exports each to ONNX (fp32, static shapes), costs it with
:func:`edgecv.runtime.predict.op_costs` and writes the cost summaries (``devices/reference_models.json``),
which the cross-device calibration (:mod:`edgecv.runtime.predict.transfer`) reads without torch.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from torch import nn

from edgecv.models.mobilenetv2 import ConvBNAct, MobileNetV2Features


class _Classifier(nn.Module):
    def __init__(self, features: nn.Module, channels: int, head: int = 1280, classes: int = 1000):
        super().__init__()
        self.features = features
        self.head = ConvBNAct(channels, head, 1) if head else nn.Identity()
        self.fc = nn.Linear(head or channels, classes)

    def forward(self, x):
        x = self.head(self.features(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def mobilenet_v2() -> nn.Module:
    f = MobileNetV2Features(width_mult=1.0, output_stride=32)
    return _Classifier(f, f.out_channels)


def mobilenet_v1() -> nn.Module:
    cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    layers, cin = [ConvBNAct(3, 32, 3, 2)], 32
    for cout, s in cfg:
        layers += [ConvBNAct(cin, cin, 3, s, groups=cin), ConvBNAct(cin, cout, 1)]
        cin = cout
    return _Classifier(nn.Sequential(*layers), 1024, head=0)


class _Bottleneck(nn.Module):
    def __init__(self, cin, mid, stride):
        super().__init__()
        cout = mid * 4
        self.body = nn.Sequential(ConvBNAct(cin, mid, 1), ConvBNAct(mid, mid, 3, stride),
                                  ConvBNAct(mid, cout, 1, act=False))
        self.skip = ConvBNAct(cin, cout, 1, stride, act=False) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


def resnet50() -> nn.Module:
    layers = [ConvBNAct(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for mid, n, s in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(n):
            layers.append(_Bottleneck(cin, mid, s if i == 0 else 1))
            cin = mid * 4
    return _Classifier(nn.Sequential(*layers), 2048, head=0)


REFERENCE_NETS = {"mobilenet_v1_1.0_224": mobilenet_v1, "mobilenet_v2_1.0_224": mobilenet_v2,
                  "resnet50": resnet50}


def write_reference_costs(out="devices/reference_models.json", work_dir=None) -> Path:
    """Export every reference net, cost it, and write the summaries (temp file + rename)."""
    from edgecv.runtime.predict import op_costs, summarize

    from .onnx_backend import torch_to_onnx

    out = Path(out)
    work = Path(work_dir or tempfile.mkdtemp(prefix="edgecv-refnets-"))
    work.mkdir(parents=True, exist_ok=True)
    res = {"about": "Cost summaries (op kinds, FLOPs, bytes moved) of the networks behind the published device "
                    "figures, from fp32 ONNX graphs built by export/reference_nets.py (random weights: structure "
                    "only). Read by edgecv.runtime.predict.transfer to calibrate predicted device profiles.",
           "models": {}}
    torch.manual_seed(0)
    for name, make in REFERENCE_NETS.items():
        m = make().eval()
        path = work / f"{name}.onnx"
        with torch.no_grad():
            torch_to_onnx(m, (torch.rand(1, 3, 224, 224),), ["image"], ["logits"], "standard", path)
        costs = op_costs(path)
        res["models"][name] = {"params": int(sum(p.numel() for p in m.parameters())),
                               "summary": summarize(costs)}
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(res, indent=1) + "\n")
    os.replace(tmp, out)
    return out

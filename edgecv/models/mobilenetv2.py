"""MobileNetV2-style backbone (inverted residuals, linear bottlenecks), optionally with DCNv2.

Variants:
- ``mnv2``     — width 0.5, output stride 16, 4-way classifier head.
- ``mnv2-dcn`` — the same with a modulated deformable 3x3 conv (DCNv2) closing the last stage,
                 the placement DFF/DCN use for the "conv5" features of dense tasks.

The classifier is trained on scene recognition of real photos and videos (see
``edgecv.train.scenes``): a real task with exact labels, so int8 exports can be judged on it.
Input: RGB in [0, 1], (N, 3, 128, 128); normalisation is part of the graph.
"""
from __future__ import annotations

import torch
from torch import nn

from ..ops import DeformConv2d
from .registry import ExportSpec, TensorSpec, register_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# (expansion t, channels c, repeats n, stride s), as in MobileNetV2.
MNV2_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                 (6, 320, 1, 1)]


def make_divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class ConvBNAct(nn.Sequential):
    def __init__(self, cin, cout, k=3, stride=1, groups=1, dilation=1, act=True):
        pad = (k - 1) // 2 * dilation
        layers = [nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, groups=groups, bias=False),
                  nn.BatchNorm2d(cout)]
        if act:
            layers.append(nn.ReLU6(inplace=True))
        super().__init__(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand, dilation=1):
        super().__init__()
        hidden = int(round(cin * expand))
        self.use_res = stride == 1 and cin == cout
        layers = [] if expand == 1 else [ConvBNAct(cin, hidden, 1)]
        layers += [ConvBNAct(hidden, hidden, 3, stride, groups=hidden, dilation=dilation),
                   ConvBNAct(hidden, cout, 1, act=False)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class DeformBlock(nn.Module):
    """DCNv2 3x3 + BN + ReLU6 with a residual connection (starts as identity + regular conv)."""

    def __init__(self, channels: int, dilation: int = 1):
        super().__init__()
        self.dcn = DeformConv2d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x):
        return x + self.act(self.bn(self.dcn(x)))


class Normalize(nn.Module):
    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("inv_std", 1.0 / torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x):
        return (x - self.mean) * self.inv_std


class MobileNetV2Features(nn.Module):
    """Backbone up to the last stage; ``out_channels`` features at ``output_stride``."""

    def __init__(self, width_mult: float = 0.5, output_stride: int = 16, dcn: bool = False,
                 settings=MNV2_SETTINGS):
        super().__init__()
        self.normalize = Normalize()
        cin = make_divisible(32 * width_mult)
        layers = [ConvBNAct(3, cin, 3, 2)]
        stride_now, dilation = 2, 1
        for t, c, n, s in settings:
            cout = make_divisible(c * width_mult)
            for i in range(n):
                stride = s if i == 0 else 1
                if stride > 1 and stride_now >= output_stride:
                    dilation *= stride
                    stride = 1
                stride_now *= stride
                layers.append(InvertedResidual(cin, cout, stride, t, dilation if stride == 1 else 1))
                cin = cout
        if dcn:
            layers.append(DeformBlock(cin, dilation))
        self.layers = nn.Sequential(*layers)
        self.out_channels = cin
        self.output_stride = output_stride

    def forward(self, x):
        return self.layers(self.normalize(x))


class ClassifierHead(nn.Module):
    """1x1 conv expansion, global average pool, linear classifier."""

    def __init__(self, cin: int, hidden: int, num_classes: int, dropout: float = 0.1):
        super().__init__()
        self.conv = ConvBNAct(cin, hidden, 1)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, feat):
        x = self.conv(feat).mean((2, 3))
        return self.fc(self.drop(x))


class MobileNetV2(nn.Module):
    def __init__(self, width_mult=0.5, output_stride=16, dcn=False, num_classes=None, head_hidden=512,
                 input_size=128):
        super().__init__()
        from ..data import SCENES

        num_classes = num_classes or len(SCENES)
        self.features = MobileNetV2Features(width_mult, output_stride, dcn)
        self.head = ClassifierHead(self.features.out_channels, head_hidden, num_classes)
        self.input_size = input_size
        self.export_spec = ExportSpec(
            inputs=[TensorSpec("image", (1, 3, input_size, input_size))], outputs=["logits"],
            int8_metric="top1", int8_threshold=0.9,
            description=f"MobileNetV2-{width_mult} {'with DCNv2 last stage ' if dcn else ''}scene classifier",
            extra={"input_format": "RGB float [0,1] NCHW, centre square crop", "classes": list(SCENES)})

    def forward(self, image):
        return self.head(self.features(image))

    @torch.no_grad()
    def sample_inputs(self, frames):
        """Real BGR uint8 frames → the model's input dicts (centre crop, resize)."""
        return [{"image": frame_to_tensor(f, self.input_size)} for f in frames]


def frame_to_tensor(frame_bgr, size: int) -> torch.Tensor:
    import cv2
    import numpy as np

    h, w = frame_bgr.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    crop = cv2.resize(frame_bgr[y0:y0 + s, x0:x0 + s], (size, size), interpolation=cv2.INTER_AREA)
    rgb = crop[:, :, ::-1].astype(np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None]


@register_model("mnv2")
def mnv2(**kw):
    return MobileNetV2(dcn=False, **kw)


@register_model("mnv2-dcn")
def mnv2_dcn(**kw):
    return MobileNetV2(dcn=True, **kw)

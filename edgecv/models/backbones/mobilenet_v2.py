"""MobileNetV2 (Sandler et al. 2018) with the weights of a *detector*: the SSD MobileNetV2 that MediaPipe's Objectron
solution ships, trained on Open Images (Apache-2.0, npm ``@mediapipe/objectron``; fetched and checked by
:func:`edgecv.data.ensure_objectron_ssd`).

Why a second trunk. EfficientNet-Lite0 (:mod:`.efficientnet_lite`) was trained to *classify* ImageNet photos; this one
was trained, inside an SSD, to put boxes around real objects (people, chairs, boxes, books, laptops, cars ...). Its
stride-16 map is the one the detector's first box predictor reads (TF's ``layer_15/expansion_output``: block 13's
576-channel expansion), so its features were taught where an object's outline is, which is what a tracker's box head
has to read.

Our own definition. The TFLite graph has every BatchNorm folded into its convolution (fp16 weights + biases), so the
layers here are convolutions with a bias, no BatchNorm: frozen statistics, which is how the trackers fine-tune a
trunk anyway. The weights are read from the ``.tflite`` file by walking its graph's convolutions in order
(:func:`load_objectron_ssd`): the LiteRT interpreter is the parser, no TensorFlow. Padding is TF's "SAME", which
for the odd crop sizes the trackers use (16 m + 1) is the symmetric padding; for even sizes (the detector's 300²)
it pads one more pixel at the bottom and right, as TF does, so that the features match the TFLite graph's.

Input: RGB in [0, 1], NCHW; the detector's (2 x − 1) scaling is the first layer.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MobileNetV2", "ssd_mobilenet_v2", "load_objectron_ssd", "TAPS"]

# (expansion t, output channels c, repeats n, first stride s): MobileNetV2's 17 bottleneck blocks.
MNV2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                 (6, 320, 1, 1))
# Where a trunk can stop: (number of blocks kept, channels, output stride). "expand16": block 13's expansion
# (stride 16), the feature map the SSD's first box predictor reads; "block12": the last 96-channel block.
TAPS = {"block5": (6, 32, 8), "block12": (13, 96, 16), "expand16": (14, 576, 16)}


def _same_pad(x: torch.Tensor, k: int, s: int) -> torch.Tensor:
    """TF "SAME" padding: out = ceil(in / s); the extra pixel, if any, at the bottom/right."""
    h, w = x.shape[-2:]
    ph = max((math.ceil(h / s) - 1) * s + k - h, 0)
    pw = max((math.ceil(w / s) - 1) * s + k - w, 0)
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class Conv(nn.Module):
    """A convolution whose BatchNorm was folded in (weight + bias), TF "SAME" padding, optional ReLU6."""

    def __init__(self, cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1, relu: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, 0, groups=groups, bias=True)
        self.k, self.stride, self.relu = k, stride, relu

    def forward(self, x):
        x = self.conv(_same_pad(x, self.k, self.stride) if self.k > 1 else x)
        return F.relu6(x) if self.relu else x


class Bottleneck(nn.Module):
    """Inverted residual: 1×1 expand (ReLU6) → 3×3 depthwise (ReLU6) → 1×1 linear projection (+ input when the
    shape allows). ``expand_only``: stop after the expansion (the SSD's stride-16 tap)."""

    def __init__(self, cin: int, cout: int, stride: int, t: int):
        super().__init__()
        mid = cin * t
        self.expand = Conv(cin, mid) if t != 1 else None
        self.depthwise = Conv(mid, mid, 3, stride, groups=mid)
        self.project = Conv(mid, cout, relu=False)
        self.residual = stride == 1 and cin == cout
        self.expand_only = False

    def forward(self, x):
        y = self.expand(x) if self.expand is not None else x
        if self.expand_only:
            return y
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    """MobileNetV2 width 1.0, stem + the first ``TAPS[tap][0]`` bottleneck blocks (no head)."""

    def __init__(self, tap: str = "expand16"):
        super().__init__()
        if tap not in TAPS:
            raise ValueError(f"tap {tap!r}: one of {sorted(TAPS)}")
        keep, self.out_channels, self.stride = TAPS[tap]
        self.tap = tap
        self.stem = Conv(3, 32, 3, 2)
        blocks, cin = [], 32
        for t, c, n, s in MNV2_SETTINGS:
            for i in range(n):
                blocks.append(Bottleneck(cin, c, s if i == 0 else 1, t))
                cin = c
        self.blocks = nn.ModuleList(blocks[:keep])
        if tap == "expand16":
            self.blocks[-1].expand_only = True
        ends = np.cumsum([n for _, _, n, _ in MNV2_SETTINGS])
        self.stage_ends = [int(e) for e in ends if e < keep] + [keep]  # blocks kept at each stage's end (as Lite0's)

    def forward(self, x):
        x = self.stem(x * 2.0 - 1.0)  # RGB [0, 1] → the detector's [−1, 1]
        for b in self.blocks:
            x = b(x)
        return x

    def convs(self) -> list[Conv]:
        """The convolutions in graph order (stem, then each block's expand / depthwise / project)."""
        out = [self.stem]
        for b in self.blocks:
            out += [b.expand] if b.expand_only else [m for m in (b.expand, b.depthwise, b.project) if m is not None]
        return out


def _tflite_mobilenet_convs(path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(op name, weight, bias) of the MobileNetV2 convolutions in a TF-OD-API SSD ``.tflite``, in graph order, fp16
    weights dequantized. Built-in kernels only (a delegate would hide the ops behind one node)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    with warnings.catch_warnings():  # preserving every tensor is meant for debugging: here it reads the weights
        warnings.simplefilter("ignore")
        it = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    it.set_tensor(inp["index"], np.zeros(inp["shape"], np.float32))
    it.invoke()  # the DEQUANTIZE ops fill the float copies of the fp16 weights
    names = {t["index"]: t["name"].split(";")[0] for t in it.get_tensor_details()}
    out = []
    for op in it._get_ops_details():
        if op["op_name"] not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            continue
        name = names[op["outputs"][0]]
        if name.startswith("FeatureExtractor/MobilenetV2/") and "layer_19" not in name and "/Conv_1/" not in name:
            out.append((op["op_name"], it.get_tensor(op["inputs"][1]).astype(np.float32),
                        it.get_tensor(op["inputs"][2]).astype(np.float32)))
    return out


def load_objectron_ssd(model: MobileNetV2, path=None) -> MobileNetV2:
    """Load the Objectron SSD's MobileNetV2 weights into ``model`` (fetched by :func:`ensure_objectron_ssd` when
    ``path`` is None). TFLite keeps convolution weights as (out, kh, kw, in) and depthwise ones as (1, kh, kw, C)."""
    if path is None:
        from edgecv.data import ensure_objectron_ssd

        path = ensure_objectron_ssd(verbose=False)
    src = _tflite_mobilenet_convs(path)
    dst = model.convs()
    if len(src) < len(dst):
        raise ValueError(f"{path}: {len(src)} MobileNetV2 convolutions, the trunk needs {len(dst)}")
    with torch.no_grad():
        for k, (conv, (op, w, b)) in enumerate(zip(dst, src)):
            depthwise = conv.conv.groups > 1
            if depthwise != (op == "DEPTHWISE_CONV_2D"):
                raise ValueError(f"{path}: convolution {k} is {op}, the trunk expects "
                                 f"{'a depthwise' if depthwise else 'a plain'} one")
            w = w.transpose(3, 0, 1, 2) if depthwise else w.transpose(0, 3, 1, 2)
            if tuple(w.shape) != tuple(conv.conv.weight.shape):
                raise ValueError(f"{path}: convolution {k} has shape {w.shape}, expected "
                                 f"{tuple(conv.conv.weight.shape)}")
            conv.conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
            conv.conv.bias.copy_(torch.from_numpy(b))
    return model


def ssd_mobilenet_v2(pretrained: bool = True, tap: str = "expand16", path=None) -> MobileNetV2:
    """MobileNetV2 cut at ``tap`` (:data:`TAPS`), with the Objectron SSD's Open Images weights when ``pretrained``."""
    model = MobileNetV2(tap)
    return load_objectron_ssd(model, path) if pretrained else model

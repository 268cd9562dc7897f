"""``warp-head``: the per-frame path of key-frame propagation (Deep Feature Flow).

Inputs are the key frame's features (from ``mnv2-dcn``) and a flow field at the feature stride
(in feature pixels, pointing from the current frame into the key frame); the features are warped
to the current frame and the light task head runs on them. The head is ``mnv2-dcn``'s trained
classifier head, so the model carries real trained weights.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

from ..ops import FlowWarp
from .mobilenetv2 import ClassifierHead, frame_to_tensor
from .registry import ExportSpec, TensorSpec, create_model, register_model


class WarpHead(nn.Module):
    def __init__(self, channels: int = 160, hidden: int = 512, num_classes: int | None = None, feat_size: int = 16,
                 stride: int = 16, source: str = "mnv2-dcn"):
        super().__init__()
        from ..data import SCENES

        num_classes = num_classes or len(SCENES)
        self.warp = FlowWarp("border")
        self.head = ClassifierHead(channels, hidden, num_classes)
        self.feat_size, self.stride, self.source = feat_size, stride, source
        self.export_spec = ExportSpec(
            inputs=[TensorSpec("features", (1, channels, feat_size, feat_size)),
                    TensorSpec("flow", (1, 2, feat_size, feat_size))],
            outputs=["logits"], int8_metric="top1", int8_threshold=0.9,
            description=f"flow warp of {source} key-frame features + its classifier head (DFF per-frame path)",
            extra={"feature_stride": stride, "flow_units": "feature pixels, current → key",
                   "weights": f"head of {source}"})

    def forward(self, features, flow):
        return self.head(self.warp(features, flow))

    def load_pretrained(self):
        src = create_model(self.source, pretrained=True)
        self.head.load_state_dict(src.head.state_dict())

    @torch.no_grad()
    def sample_inputs(self, frames, seed: int = 0):
        """Real frames → (key features, exact flow): the current frame is the key frame moved by a
        known small similarity transform, so the flow at the feature grid is exact."""
        backbone = create_model(self.source, pretrained=True).features
        rng = np.random.default_rng(seed)
        size = self.feat_size * self.stride
        feeds = []
        g = (np.arange(self.feat_size) + 0.5) * self.stride - 0.5  # feature-cell centres, image pixels
        gx, gy = np.meshgrid(g, g)
        for frame in frames:
            key = frame_to_tensor(frame, size)
            ang, sc = np.deg2rad(rng.uniform(-4, 4)), rng.uniform(0.96, 1.04)
            tx, ty = rng.uniform(-12, 12, size=2)
            a = cv2.getRotationMatrix2D((size / 2, size / 2), np.rad2deg(ang), sc)
            a[:, 2] += (tx, ty)  # key → current
            inv = cv2.invertAffineTransform(a)  # current → key
            kx = inv[0, 0] * gx + inv[0, 1] * gy + inv[0, 2]
            ky = inv[1, 0] * gx + inv[1, 1] * gy + inv[1, 2]
            flow = np.stack([(kx - gx), (ky - gy)]) / self.stride
            feeds.append({"features": backbone(key), "flow": torch.from_numpy(flow[None].astype(np.float32))})
        return feeds


@register_model("warp-head")
def warp_head(**kw):
    return WarpHead(**kw)

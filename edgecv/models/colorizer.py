"""Exemplar-based video colorization: semantic correspondence to a colour reference + a colorization
net that repairs the copied colours, recurrent over frames (after Zhang et al. 2019, "Deep
Exemplar-based Video Colorization", at edge size).

Variants (registry names):
- ``excolor`` — matching encoder: MobileNetV2-0.5 up to its 96-channel stage at output stride 8,
  started from the shipped ``mnv2-dcn`` classifier, fed the grey L channel; 64-d matching features;
  a small depthwise-separable U-Net colorizer.

Geometry (every graph static-shape):
- the **reference** is matched at a fixed 320×240 (W×H): its features and its ab averaged over each
  8×8 cell form a 40×30 grid (1200 positions), computed once per video (``excolor-ref``);
- a **frame** of working size k·(320×240) (k = 1, 2: 320×240, 640×480) enters as normalised L
  (1, 1, H, W); its matching features come from L pooled to 320×240, so correspondence is always
  1200 × 1200 and only the colorizer grows with the size (``excolor-frame-WxH``);
- correspondence: cosine similarity of the frame's and the reference's features, softmax over the
  reference positions with a learnt temperature, giving warped reference ab and a confidence (the
  best similarity) on the 40×30 grid;
- the colorizer takes L, the warped ab and confidence (upsampled), the previous frame's predicted ab
  and the matching features; it outputs ab at half the working size (chroma subsampling); the runtime
  puts them back with the frame's full-resolution L. The previous ab is an explicit input and output,
  so the recurrence lives in the runtime loop; zeros mean "no previous frame".

Lab conventions: :mod:`edgecv.runtime.colorize.lab` (``L/50 - 1``, ``ab/110``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edgecv.runtime.colorize import lab as labc

from .mobilenetv2 import MNV2_SETTINGS, ConvBNAct, MobileNetV2Features
from .registry import ExportSpec, TensorSpec, create_model, register_model

REF_H, REF_W = 240, 320
STRIDE = 8
GRID_H, GRID_W = REF_H // STRIDE, REF_W // STRIDE
FEAT = 64
SIZES = ((320, 240), (640, 480))
# int8 ONNX exports quantise the convolutions only: the correspondence (MatMul, Softmax) stays in float, where
# 8 bits would flatten the similarities a temperature of ~0.02 makes sharp. TFLite int8 (PT2E, which also
# quantises every activation) keeps the correspondence and the colorizer U-Net in float and runs the matching
# encoder in int8: with the U-Net in int8 the ab output's cosine to fp32 falls to 0.91 (its first concat puts
# ReLU6 features in [0, 6] and ab in about ±0.3 on one 8-bit scale); with it in float, 0.9998.
INT8_OPS = ("Conv", "Add")  # (W, H) working sizes exported by default
GEOMETRY = {"reference_size": [REF_H, REF_W], "match_stride": STRIDE, "match_grid": [GRID_H, GRID_W],
            "match_channels": FEAT, "ab_scale": labc.AB_SCALE, "l_scale": labc.L_SCALE,
            "input_format": "L/50-1 (1,1,H,W); ab/110; predicted ab at half the working size"}


class SepConv(nn.Sequential):
    """Depthwise 3×3 (optionally dilated/strided) + pointwise 1×1, each with BN + ReLU6."""

    def __init__(self, cin, cout, stride=1, dilation=1):
        super().__init__(ConvBNAct(cin, cin, 3, stride, groups=cin, dilation=dilation), ConvBNAct(cin, cout, 1))


class MatchEncoder(nn.Module):
    """Grey L → matching features at stride 8 (unit-norm 64-d) and the trunk's features for the colorizer."""

    def __init__(self):
        super().__init__()
        self.trunk = MobileNetV2Features(0.5, output_stride=STRIDE, settings=MNV2_SETTINGS[:5])
        self.proj = nn.Sequential(ConvBNAct(self.trunk.out_channels, 96, 1), nn.Conv2d(96, FEAT, 1))

    def forward(self, l_n):
        grey = (l_n + 1.0) * 0.5
        grey = torch.cat([grey, grey, grey], 1)  # L as a grey RGB image in [0, 1]
        trunk = self.trunk(grey)
        f = self.proj(trunk)
        return f * torch.rsqrt((f * f).sum(1, keepdim=True) + 1e-6), trunk


class Correspondence(nn.Module):
    """Soft attention from each frame cell to the reference cells: warped ab and confidence.

    ``query`` (N, C, h, w) and ``ref`` (N, C, hr, wr) unit-norm features; ``ref_ab`` (N, 2, hr, wr).
    Returns warped ab (N, 2, h, w) and confidence (N, 1, h, w) = best cosine similarity.
    """

    def __init__(self, temperature: float = 0.02):
        super().__init__()
        self.log_inv_t = nn.Parameter(torch.tensor(float(np.log(1.0 / temperature))))

    def forward(self, query, ref, ref_ab):
        n, c, h, w = query.shape
        q = query.reshape(n, c, h * w).transpose(1, 2)              # N, Q, C
        sim = torch.matmul(q, ref.reshape(n, c, -1))                 # N, Q, R
        attn = torch.softmax(sim * self.log_inv_t.exp(), dim=-1)
        warped = torch.matmul(attn, ref_ab.reshape(n, 2, -1).transpose(1, 2))  # N, Q, 2
        conf = sim.max(dim=-1, keepdim=True)[0]
        return (warped.transpose(1, 2).reshape(n, 2, h, w), conf.transpose(1, 2).reshape(n, 1, h, w))


class ColorNet(nn.Module):
    """Small U-Net: L (full), warped ab + confidence + previous ab (half res), trunk features (stride 8 of
    the reference size) → ab at half the working size, as a residual on the warped ab."""

    def __init__(self, trunk_channels: int):
        super().__init__()
        self.stem = ConvBNAct(1, 16, 3, 2)                                           # 1/2
        self.enc1 = SepConv(16 + 5, 32)
        self.enc2 = nn.Sequential(SepConv(32, 48, 2), SepConv(48, 48))             # 1/4
        self.enc3 = SepConv(48, 64, 2)                                               # 1/8
        self.mid = nn.Sequential(SepConv(64 + trunk_channels + 3, 96), SepConv(96, 96, dilation=2),
                                 SepConv(96, 96, dilation=4))
        self.dec2 = SepConv(96 + 48, 48)
        self.dec1 = SepConv(48 + 32, 32)
        self.out = nn.Conv2d(32, 2, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    @staticmethod
    def _up(x, size):
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)

    def forward(self, l_n, warped, conf, prev_ab, trunk):
        h2, w2 = l_n.shape[-2] // 2, l_n.shape[-1] // 2
        h8, w8 = l_n.shape[-2] // 8, l_n.shape[-1] // 8
        warped_up = self._up(warped, (h2, w2))
        e1 = self.enc1(torch.cat([self.stem(l_n), warped_up, self._up(conf, (h2, w2)), prev_ab], 1))
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        m = torch.cat([e3, self._up(trunk, (h8, w8)), self._up(warped, (h8, w8)), self._up(conf, (h8, w8))], 1)
        m = self.mid(m)
        d2 = self.dec2(torch.cat([self._up(m, e2.shape[-2:]), e2], 1))
        d1 = self.dec1(torch.cat([self._up(d2, (h2, w2)), e1], 1))
        return warped_up + self.out(d1)


def pool_to_reference(l_n: torch.Tensor) -> torch.Tensor:
    """L at a working size k·(240×320) → L at the matching scale (average pooling by k). Sizes below
    2·240 rows are matched as they are (training uses 240×320 crops of any smaller size)."""
    k = max(1, l_n.shape[-2] // REF_H)
    if k > 1 and (k * REF_H != l_n.shape[-2] or k * REF_W != l_n.shape[-1]):
        raise ValueError(f"working size {l_n.shape[-1]}x{l_n.shape[-2]} is not an integer multiple of "
                         f"{REF_W}x{REF_H}")
    return F.avg_pool2d(l_n, k) if k > 1 else l_n


class ExemplarColorizer(nn.Module):
    """Reference encoder + per-frame correspondence and colorization."""

    def __init__(self):
        super().__init__()
        self.encoder = MatchEncoder()
        self.corr = Correspondence()
        self.color = ColorNet(self.encoder.trunk.out_channels)

    def encode_reference(self, ref_lab):
        """Normalised reference Lab (N, 3, 240, 320) → unit features and ab on the 30×40 grid."""
        feat, _ = self.encoder(ref_lab[:, :1])
        return feat, F.avg_pool2d(ref_lab[:, 1:], STRIDE)

    def frame(self, l_n, ref_feat, ref_ab, prev_ab):
        """One frame: normalised L (N, 1, H, W) → ab (N, 2, H/2, W/2), confidence (N, 1, 30, 40),
        warped ab (N, 2, 30, 40)."""
        feat, trunk = self.encoder(pool_to_reference(l_n))
        warped, conf = self.corr(feat, ref_feat, ref_ab)
        return self.color(l_n, warped, conf, prev_ab, trunk), conf, warped

    def forward(self, l_n, ref_lab, prev_ab):
        ref_feat, ref_ab = self.encode_reference(ref_lab)
        return self.frame(l_n, ref_feat, ref_ab, prev_ab)[0]

    def init_from_classifier(self, source: str = "mnv2-dcn"):
        """Start the trunk from the shipped scene classifier (its first stages; dilated to stride 8)."""
        src = create_model(source, pretrained=True).features.state_dict()
        own = self.encoder.trunk.state_dict()
        own.update({k: v for k, v in src.items() if k in own and own[k].shape == v.shape})
        self.encoder.trunk.load_state_dict(own)

    def export_parts(self, sizes=SIZES):
        parts = {"ref": RefPart(self)}
        for w, h in sizes:
            parts[f"frame-{w}x{h}"] = FramePart(self, (h, w))
        return parts


# ---- export parts ---------------------------------------------------------------------------------------

def frame_l(frame_bgr, size_hw) -> np.ndarray:
    """A BGR (or grey) frame → normalised L (1, 1, H, W) at the working size."""
    import cv2

    h, w = size_hw
    return labc.normalize_l(cv2.resize(labc.gray_l(frame_bgr), (w, h), interpolation=cv2.INTER_AREA))[None, None]


def reference_lab(ref_bgr) -> np.ndarray:
    """A colour reference (BGR) → normalised Lab (1, 3, 240, 320)."""
    import cv2

    lab = labc.bgr_to_lab(cv2.resize(ref_bgr, (REF_W, REF_H), interpolation=cv2.INTER_AREA))
    return np.concatenate([labc.normalize_l(lab[..., :1]), labc.normalize_ab(lab[..., 1:])], -1) \
        .transpose(2, 0, 1)[None].astype(np.float32)


def _extra(part, **kw):
    return dict(GEOMETRY, pipeline="colorize", part=part, **kw)


class RefPart(nn.Module):
    def __init__(self, model: ExemplarColorizer):
        super().__init__()
        self.net = model
        self.model_name = f"{model.model_name}-ref"
        self.export_spec = ExportSpec(
            inputs=[TensorSpec("ref_lab", (1, 3, REF_H, REF_W))], outputs=["ref_features", "ref_ab"],
            int8_metric="cosine", int8_threshold=0.95,
            description=f"{model.model_name} reference encoder (once per video)", extra=_extra("ref"),
            int8_float_outputs=True, int8_op_types=INT8_OPS)

    def forward(self, ref_lab):
        return self.net.encode_reference(ref_lab)

    @torch.no_grad()
    def sample_inputs(self, frames):
        return [{"ref_lab": torch.from_numpy(reference_lab(f))} for f in frames]


class FramePart(nn.Module):
    def __init__(self, model: ExemplarColorizer, size_hw):
        super().__init__()
        self.net = model
        h, w = size_hw
        self.size = (h, w)
        self.model_name = f"{model.model_name}-frame-{w}x{h}"
        self.export_spec = ExportSpec(
            inputs=[TensorSpec("gray", (1, 1, h, w)), TensorSpec("ref_features", (1, FEAT, GRID_H, GRID_W)),
                    TensorSpec("ref_ab", (1, 2, GRID_H, GRID_W)), TensorSpec("prev_ab", (1, 2, h // 2, w // 2))],
            outputs=["ab", "confidence"], int8_metric="cosine", int8_threshold=0.95,
            description=f"{model.model_name} correspondence + colorization at {w}x{h} (every frame)",
            extra=_extra("frame", size=[h, w], ab_size=[h // 2, w // 2]), int8_float_outputs=True,
            int8_op_types=INT8_OPS, int8_calib_frames=64 * REF_H * REF_W // (h * w),
            int8_float_modules=(Correspondence, ColorNet))

    def forward(self, gray, ref_features, ref_ab, prev_ab):
        ab, conf, _ = self.net.frame(gray, ref_features, ref_ab, prev_ab)
        return ab, conf

    @torch.no_grad()
    def sample_inputs(self, frames):
        """Each frame colorized against a reference that resembles it, as in use: another view of the same
        scene (the frame under a known small rotation, zoom and shift), with the frame's own true colours,
        shifted by two pixels, as the previous ab — the inputs the loop feeds on real video."""
        import cv2

        feeds = []
        h, w = self.size
        rng = np.random.default_rng(0)
        for f in frames:
            fh, fw = f.shape[:2]
            a = cv2.getRotationMatrix2D((fw / 2, fh / 2), rng.uniform(-4, 4), rng.uniform(1.0, 1.1))
            a[:, 2] += rng.uniform(-0.04, 0.04, 2) * (fw, fh)
            ref = cv2.warpAffine(f, a, (fw, fh), borderMode=cv2.BORDER_REFLECT)
            ref_feat, ref_ab = self.net.encode_reference(torch.from_numpy(reference_lab(ref)))
            lab = labc.bgr_to_lab(cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA))
            prev = np.roll(labc.normalize_ab(lab[..., 1:]), 2, axis=1).transpose(2, 0, 1)[None]
            feeds.append({"gray": torch.from_numpy(frame_l(f, self.size)), "ref_features": ref_feat,
                          "ref_ab": ref_ab, "prev_ab": torch.from_numpy(np.ascontiguousarray(prev))})
        return feeds


@register_model("excolor")
def excolor(**kw):
    return ExemplarColorizer(**kw)

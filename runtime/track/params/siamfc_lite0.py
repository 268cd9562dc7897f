"""siamfc-lite0: SiamFC on the ImageNet Lite0 trunk (stride 16), a 3-scale search over the siamfc-lite0 graphs."""
from __future__ import annotations

NAME = "siamfc-lite0"                # the --tracker name
FAMILY = "siamfc"                    # the module in runtime/track/ that holds the tracker class
TRACKER = "SiamFCTracker"            # the tracker class
MODEL = "siamfc-lite0"               # the exported model whose template and search graphs it runs


def parameters():
    from ..siamfc import SiamFCParams
    from . import lost

    return SiamFCParams(
        num_scales=3,                # scale pyramid crops per frame (as SiamFC)
        scale_step=1.0375,           # scale factor between neighbouring crops (as SiamFC)
        scale_penalty=0.9745,        # multiplies every non-unit scale's peak (as SiamFC)
        scale_lr=0.59,               # damped scale update (as SiamFC)
        window_influence=0.176,      # cosine window blended into the response (as SiamFC)
        response_up=16,              # bicubic upsampling of the 13×13 score map (stride 16, as SiamFC's 17×17)
        min_size=8.0,                # smallest box side, px
        lost=lost.parameters(),      # the lost state shared by every Siamese variant
    )

"""sasiam: SA-Siam (He et al. 2018: appearance + semantic branch, λ = 0.3 in the graph) under SiamFC's search."""
from __future__ import annotations

NAME = "sasiam"                      # the --tracker name
FAMILY = "siamfc"                    # the module in runtime/track/ that holds the tracker class
TRACKER = "SiamFCTracker"            # the tracker class
MODEL = "sasiam"                     # the exported model whose template and search graphs it runs


def parameters():
    from ..siamfc import SiamFCParams
    from . import lost

    return SiamFCParams(
        num_scales=3,                # scale pyramid crops per frame (as SiamFC)
        scale_step=1.0375,           # scale factor between neighbouring crops (as SiamFC)
        scale_penalty=0.9745,        # multiplies every non-unit scale's peak (as SiamFC)
        scale_lr=0.59,               # damped scale update (as SiamFC)
        window_influence=0.176,      # cosine window blended into the response (as SiamFC)
        response_up=8,               # bicubic upsampling of the 25×25 score map
        min_size=8.0,                # smallest box side, px
        lost=lost.parameters(),      # the lost state shared by every Siamese variant
    )

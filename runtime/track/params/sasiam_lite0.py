"""sasiam-lite0: SA-Siam on Lite0 (appearance: siamfc-lite0; semantic: frozen ImageNet stages 4-5), SiamFC search."""
from __future__ import annotations

NAME = "sasiam-lite0"                # the --tracker name
FAMILY = "siamfc"                    # the module in runtime/track/ that holds the tracker class
TRACKER = "SiamFCTracker"            # the tracker class
MODEL = "sasiam-lite0"               # the exported model whose template and search graphs it runs


def parameters():
    from ..siamfc import SiamFCParams
    from . import lost

    return SiamFCParams(
        num_scales=3,                # scale pyramid crops per frame (as SiamFC)
        scale_step=1.0375,           # scale factor between neighbouring crops (as SiamFC)
        scale_penalty=0.9745,        # multiplies every non-unit scale's peak (as SiamFC)
        scale_lr=0.59,               # damped scale update (as SiamFC)
        window_influence=0.176,      # cosine window blended into the response (as SiamFC)
        response_up=16,              # bicubic upsampling of the 13×13 score map (stride 16)
        min_size=8.0,                # smallest box side, px
        lost=lost.parameters(),      # the lost state shared by every Siamese variant
    )

"""klt: corners + pyramidal Lucas–Kanade with a forward–backward check, median motion; no artifacts."""
from __future__ import annotations

NAME = "klt"                         # the --tracker name
FAMILY = "baselines"                 # the module in runtime/track/ that holds the tracker class
TRACKER = "KLTTracker"               # the tracker class
MODEL = None                         # runs on the frames, no exported graphs


def parameters():
    from ..baselines import KLTParams

    return KLTParams(
        max_corners=100,             # corners detected in the box
        quality=0.01,                # corner quality level (goodFeaturesToTrack)
        min_distance=3.0,            # px between corners
        block_size=5,                # corner detector block
        margin=0.1,                  # the box shrunk by this fraction of w/h per side, keeps corners off the edge
        win_size=(15, 15),           # Lucas–Kanade window
        max_level=3,                 # pyramid levels
        criteria_iters=20,           # LK iterations
        criteria_eps=0.03,           # LK convergence
        fb_max_error=1.0,            # a point survives when forward then backward lands within this many px
        fb_median=False,             # off: dropping the worse half (Median Flow) gained nothing steady
        min_points=5,                # fewer survivors: lost
        redetect_below=20,           # fewer points left: detect corners again in the new box
        max_scale_step=1.1,          # per-frame scale change clamped to [1/m, m]
        min_pair_distance=5.0,       # px; closer point pairs are left out of the scale estimate
    )

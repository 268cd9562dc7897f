"""mil: OpenCV's TrackerMIL (Babenko et al. 2009) behind the common interface; no artifacts."""
from __future__ import annotations

NAME = "mil"                         # the --tracker name
FAMILY = "baselines"                 # the module in runtime/track/ that holds the tracker class
TRACKER = "MILTracker"               # the tracker class
MODEL = None                         # runs on the frames, no exported graphs


def parameters():
    from ..baselines import MILParams

    return MILParams(
        sampler_init_in_radius=None,    # None: OpenCV's default
        sampler_search_win_size=None,   # None: OpenCV's default
        feature_set_num_features=None,  # None: OpenCV's default
        extra={},                       # any other cv2.TrackerMIL_Params field by name
    )

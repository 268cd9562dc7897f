"""nanotrack: a NanoTrack-format backbone/head pair (not trained by edgecv; `edgecv export nanotrack --model DIR`)."""
from __future__ import annotations

NAME = "nanotrack"                   # the --tracker name
FAMILY = "nanotrack"                 # the module in runtime/track/ that holds the tracker class
TRACKER = "NanoTrackTracker"         # the tracker class
MODEL = "nanotrack"                  # the exported model whose template and search graphs it runs
FOREIGN = True                       # its graphs come from the user's folder (--model DIR), not from edgecv's models

# NanoTrack's own post-processing constants as OpenCV 5.1's tracker_nano.cpp has them, so that a NanoTrack model
# behaves here as it does in cv2.TrackerNano (issue 24's check: within 1 AUC point of it on the dev set).


def parameters():
    from ..nanotrack import NanoTrackParams
    from . import lost

    return NanoTrackParams(
        window_influence=0.455,      # Hanning window's share of the score (tracker_nano.cpp)
        size_penalty=0.055,          # penalty_k (tracker_nano.cpp)
        size_lr=0.37,                # box-size update rate × the cell's penalty and score (tracker_nano.cpp)
        min_size=10.0,               # OpenCV clamps the box side to ≥ 10 px
        lost=lost.parameters(),      # the lost state shared by every Siamese variant
    )

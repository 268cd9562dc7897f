"""boxtrack-fc: boxtrack-fast's box head and SiamFC-Lite0's whole-template score from one 225² search pass."""
from __future__ import annotations

NAME = "boxtrack-fc"                 # the --tracker name
FAMILY = "boxtrack"                  # the module in runtime/track/ that holds the tracker class
TRACKER = "BoxTrackTracker"          # the tracker class
MODEL = "boxtrack-fc"                # the exported model whose template and search graphs it runs

# Every value but fc_weight / fc_confidence is boxtrack-fast's (params/boxtrack_fast.py, where each is argued; a
# test keeps them equal): the box branch computes exactly boxtrack-fast's maps.
#
# fc_weight / fc_confidence, chosen on training material only (bench/tune_track.py --tracker boxtrack-fc --precision
# int8 --grid fc_weight=0.2,0.35,0.5,0.7 fc_confidence=true,false --synth 8 --synth-tilt 50 --synth-opening 70
# --synth-occlusion --occlude-tracklets; 51 sequences; bench/results/boxtrack-fc-tuning.json). Off (weight 0):
# pooled AUC 0.762. In the pick only: 0.766 at every weight from 0.2 to 0.7, the gain all on the occluded
# pedestrian tracklets (0.678 -> 0.700), no part losing. In the confidence too: 0.760 / 0.756 / 0.768 / 0.765 at
# 0.2 / 0.35 / 0.5 / 0.7, gaining on the synthetic occlusions (0.569 -> 0.609 at 0.5) and losing on every unoccluded
# part (tracklets 0.804 -> 0.800, turning 0.854 -> 0.847). Taken: 0.5 in the pick only, within 0.002 of the best,
# flat across the weights where the confidence blend swings by 0.012 between neighbours, and losing nowhere.
# (A first try blended sigmoid(fc) instead of the share of the init peak: both maps saturate at 1 on the target
# and on a look-alike, 0.763-0.766 in the pick only.)


def parameters():
    from ..boxtrack import BoxTrackParams
    from . import lost

    return BoxTrackParams(
        window_influence=0.455,      # cosine window blended into the penalised score (NanoTrack's value)
        size_penalty=0.138,          # k of SiamRPN's size/aspect change penalty (NanoTrack's value)
        size_lr=0.5,                 # box-size update rate × the winning cell's score and penalty (boxtrack-fast's)
        cf_weight=0.0,               # online correlation filter's share of the cell score: off until tuned
        cf_lr=0.02,                  # its update rate on confident frames (MOSSE-like)
        cf_sigma=0.25,               # its Gaussian label's width × the target's size in cells
        cf_lambda=0.01,              # its ridge regulariser × the features' mean energy
        calibrate_size=False,        # divide out the head's size bias measured on the init frame (loses: boxtrack-fast)
        mask_floor=0.3,              # template-mask weight outside the box (0.3: as trained)
        template_lr=0.3,             # online template update: latest template's weight (boxtrack-fast's, tuned)
        update_every=10,             # frames between template updates
        update_above=0.8,            # confidence needed for a template update
        flow_scale=False,            # size predicted from LK points inside the box: off until tuned
        flow_trust=0.5,              # with flow_scale: the head's size correction × (1 − this)
        min_size=8.0,                # smallest box side, px
        lost=lost.parameters(),      # the lost state shared by every Siamese variant
        reacquire_cos=0.7,           # while lost, only cells whose appearance matches the target's re-acquire
        reacquire_bands=3,           # ... measured in three horizontal bands of the box (boxtrack-fast's, tuned)
        fc_weight=0.5,               # SiamFC score's share in the score that picks the cell (tuned, above)
        fc_confidence=False,         # the confidence stays the box head's (tuned, above)
    )

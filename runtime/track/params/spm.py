"""spm: the SPM family's full net (SPM-style coarse-to-fine, a 3-scale pyramid every frame)."""
from __future__ import annotations

NAME = "spm"                         # the --tracker name
FAMILY = "spm"                       # the module in runtime/track/ that holds the tracker class
TRACKER = "SPMTracker"               # the tracker class
MODEL = "spm"                        # the exported model whose template and search graphs it runs

# Chosen by bench/tune_track.py on tracklets of the training video and synthetic sequences from training
# photos, never on the dev set (BENCHMARKS.md#tracker-tuning): the pyramid every frame with a faster size
# update scored 0.560 pooled AUC on 12 tracklets + 48 synthetic sequences, against 0.532 for one crop and
# 0.542 / 0.554 for the pyramid every other frame (scale_lr 0.3 / 0.5); the earlier 8-sequence set had
# called one crop vs pyramid a tie (0.593 vs 0.586).


def parameters():
    from ..spm import SPMParams
    from . import lost

    return SPMParams(
        top_k=5,                     # coarse candidates re-scored by the fine stage
        fine_temperature=2.0,        # T while tracking: 3 / 4 raised false "lost" frames to 1.5% / 2.5%
        redetect_temperature=4.0,    # T while lost: look-alike (cos ≈ .75) under found_above, target (≈ .9) over
        window_influence=0.2,        # motion prior (cosine window) on the candidate score
        size_penalty=0.05,           # k of SiamRPN's size/aspect change penalty
        size_lr=0.15,                # damped box-size update from the regressed box (faster than spm-lite's)
        aspect_lr=None,              # off: damping the aspect lowered AUC on the training tracklets
        calibrate_size=False,        # off: lost on the tracklets (0.68 vs 0.71 AUC)
        box_centre=True,             # move to the regressed box's centre
        num_scales=3,                # scale pyramid crops (1: the one-crop tracker)
        scale_step=1.06,             # scale factor between neighbouring crops
        scale_penalty=0.9745,        # multiplies every non-unit scale's strength
        scale_lr=0.3,                # damped scale update from the winning crop
        scale_every=1,               # the pyramid on every frame
        min_size=8.0,                # smallest box side, px
        lost=lost.parameters(),      # the lost state shared by every Siamese variant
    )

"""spm-nano: spm-lite's net at a 223² search input (its own export), the pyramid every other frame.

Retired as a ``--tracker`` on 2026-12-07 (it tied KLT on the dev set; ``spm-lite0`` replaces it, ``registry.RETIRED``),
so this module is no longer in the registry's list: it holds the values :class:`..spm.SPMTracker` runs the SPM
graphs with (``spm-nano``, and the retired ``spm`` / ``spm-lite`` graphs)."""
from __future__ import annotations

NAME = "spm-nano"                    # the retired --tracker name
FAMILY = "spm"                       # the module in runtime/track/ that holds the tracker class
TRACKER = "SPMTracker"               # the tracker class
MODEL = "spm-nano"                   # the exported model whose template and search graphs it runs

# spm-lite's values, but the fast one runs the pyramid on every other frame (2 search passes per frame on
# average): tied with every frame on the 8-sequence tuning set (0.561 vs 0.559), so the faster setting
# (bench/tune_track.py on training material, BENCHMARKS.md#tracker-tuning).


def parameters():
    from ..spm import SPMParams
    from . import lost

    return SPMParams(
        top_k=5,                     # coarse candidates re-scored by the fine stage
        fine_temperature=2.0,        # T while tracking: 3 / 4 raised false "lost" frames to 1.5% / 2.5%
        redetect_temperature=4.0,    # T while lost: look-alike (cos ≈ .75) under found_above, target (≈ .9) over
        window_influence=0.2,        # motion prior (cosine window) on the candidate score
        size_penalty=0.05,           # k of SiamRPN's size/aspect change penalty
        size_lr=0.08,                # damped box-size update from the regressed box
        aspect_lr=None,              # off: damping the aspect lowered AUC on the training tracklets
        calibrate_size=False,        # off: lost on the tracklets (0.68 vs 0.71 AUC)
        box_centre=True,             # move to the regressed box's centre
        num_scales=3,                # scale pyramid crops (1: the one-crop tracker)
        scale_step=1.06,             # scale factor between neighbouring crops
        scale_penalty=0.9745,        # multiplies every non-unit scale's strength
        scale_lr=0.5,                # damped scale update from the winning crop
        scale_every=2,               # the pyramid on every other frame, one crop in between
        min_size=8.0,                # smallest box side, px
        lost=lost.parameters(),      # the lost state shared by every Siamese variant
    )

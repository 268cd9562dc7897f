"""mosse: the MOSSE correlation filter (Bolme et al., CVPR 2010), fixed box size; no artifacts."""
from __future__ import annotations

NAME = "mosse"                       # the --tracker name
FAMILY = "baselines"                 # the module in runtime/track/ that holds the tracker class
TRACKER = "MosseTracker"             # the tracker class
MODEL = None                         # runs on the frames, no exported graphs

# Bolme et al. 2010's values where the paper gives one, except the learning rate: with a padded window the
# background sliding through it pulls the PSR of a correctly tracked target under 7 at the paper's 0.125,
# and the frozen filter then never recovers; 0.2 (OpenCV's MOSSE rate) kept a real photo patch moving over
# real photo backgrounds tracked with no false losses (mean IoU 0.95 vs 0.82, 9 synthetic sequences, padding 2).


def parameters():
    from ..baselines import MosseParams

    return MosseParams(
        padding=2.0,                 # search window side / box side
        max_window=96,               # the window is resampled so its longer side is at most this (FFT cost)
        min_window=32,               # tiny windows are enlarged to this (a 2-px Gaussian needs room)
        sigma=2.0,                   # std of the Gaussian target response, window px
        learning_rate=0.2,           # running-average rate of the filter (OpenCV's; the paper's 0.125, see above)
        n_perturbations=8,           # random affine warps of the first window that train the initial filter
        perturb_rotation_deg=10.0,   # bound of the warps' rotation
        perturb_scale=0.05,          # bound of the warps' scale change
        perturb_shift=0.02,          # bound of the warps' shift, in window sides
        reg=1e-5,                    # added to the denominator (frequencies with no energy)
        psr_lost=7.0,                # PSR under which the target is lost (paper: 20–60 tracking, < 7 on failure)
        psr_full=30.0,               # the PSR that maps to score 1
        sidelobe_exclude=5,          # half-side of the square left out of the sidelobe (paper: 11×11 → 5)
        seed=0,                      # RNG of the warps
    )

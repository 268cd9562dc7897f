"""boxtrack-fast: boxtrack's weights on a 225² search crop (15×15 cells, 0.77× the pixels per frame)."""
from __future__ import annotations

NAME = "boxtrack-fast"               # the --tracker name
FAMILY = "boxtrack"                  # the module in runtime/track/ that holds the tracker class
TRACKER = "BoxTrackTracker"          # the tracker class
MODEL = "boxtrack-fast"              # the exported model whose template and search graphs it runs

# Starting values are NanoTrack's published post-processing (window 0.455, penalty_k 0.138, lr 0.348 on the
# 16×16 map of a stride-16 head). calibrate_size: a tie without the template update, off with it
# (bench/tune_track.py --tracker boxtrack-fast --grid calibrate_size=true,false, same material as below, int8:
# off 0.820 vs on 0.813 pooled; real tracklets 0.805 vs 0.795, opening 0.811 vs 0.790, turning 0.843 vs 0.855).
# Template update: on at lr 0.3, chosen on training material only (bench/tune_track.py --synth 8 --synth-tilt 50
# --synth-opening 70: 12 vtest training tracklets + 8 synthetic + 8 turning + 8 "opening" tracks, whose object
# starts small and edge-on and grows as it turns to face the camera): pooled AUC 0.807 -> 0.812 int8 (boxtrack),
# 0.808 -> 0.813 (fast); the real tracklets and the opening part gain, the rigid synthetic parts lose a little
# (bench/results/boxtrack-tuning.json). flow_scale (LK size prediction) gains on the synthetic parts only and is
# off: on the real tracklets it ties or loses. The online correlation filter is off: not yet tuned.

# size_lr (tune_track --tracker boxtrack-fast --grid size_lr=0.348,0.5,0.7,0.85, same material): 0.820 / 0.826 /
# 0.828 / 0.817 pooled; 0.5 is kept, within 0.002 of the best and a step back from the turning part's drop at 0.85
# (0.854 -> 0.811, one track drifting), which the 0.7 setting sits next to.

# reacquire_cos / reacquire_bands (tune_track --tracker boxtrack-fast, the grid and material of params/boxtrack.py):
# off 0.501 synthetic occluded / 0.531 real occluded tracklets; 1 band at 0.7 0.558 / 0.515; 3 bands at 0.7 0.561 /
# 0.707 (pooled 0.765, the best; off 0.731), at 0.75 0.471 / 0.698. 3 bands at 0.7, as boxtrack.

# lost_size_frames (bench/tune_track.py --tracker boxtrack-fast --precision int8 --grid lost_size_frames=0,6,10,15
# with the size alone restored, then =6,10,15 with the rule below (runtime/track/boxtrack.py: restore_size); the
# material above; bench/results/boxtrack-lost-size.json): restoring only the axes that shrank, anchored on the side
# that held still (the shipped rule): 0.765 (off) / 0.778 / 0.767 / 0.768 at 0 / 6 / 10 / 15 (size alone 0.771 / 0.768
# / 0.760); the synthetic occlusions gain 0.07-0.08 at every value, the real occluded tracklets swing by 0.08 between
# neighbouring values (re-acquiring a pedestrian among pedestrians is a near-tie), the parts without occlusion are
# unchanged. 6: the best.

# box_vote (bench/tune_track.py --tracker boxtrack-fast --precision int8 --grid box_vote=0,0.3,0.6, the material
# above; bench/results/boxtrack-vote.json): 0.778 (off) / 0.785 / 0.788, the gain on the turning and opening parts
# (0.855 -> 0.869, 0.826 -> 0.839) and the synthetic occlusions (0.638 -> 0.667). 0.6: the best.
# mask_follows (--grid box_vote=0.6 mask_follows=0,0.5,0.7,1): 0.788 / 0.782 / 0.787 / 0.782; 0 (each template its
# own mask): the best.

# template_running (--grid template_running=false,true template_lr=0.15,0.3, 2026-12-07): anchored 0.787 / 0.770 at
# lr 0.3 / 0.15, running 0.781 / 0.779: anchored at 0.3 stays.


def parameters():
    from ..boxtrack import BoxTrackParams
    from . import lost

    return BoxTrackParams(
        window_influence=0.455,      # cosine window blended into the penalised score (NanoTrack's value)
        size_penalty=0.138,          # k of SiamRPN's size/aspect change penalty (NanoTrack's value)
        size_lr=0.5,                 # box-size update rate × the winning cell's score and penalty (tuned, above)
        cf_weight=0.0,               # online correlation filter's share: off (tuned, BENCHMARKS.md#boxtrack-online)
        cf_lr=0.02,                  # its update rate on confident frames (MOSSE-like)
        cf_sigma=0.25,               # its Gaussian label's width × the target's size in cells
        cf_lambda=0.01,              # its ridge regulariser × the features' mean energy
        calibrate_size=False,        # divide out the head's size bias measured on the init frame (loses, see above)
        mask_floor=0.3,              # template-mask weight outside the box (0.3: as trained)
        template_lr=0.3,             # online template update: latest template's weight (tuned, see above)
        update_every=10,             # frames between template updates
        update_above=0.8,            # confidence needed for a template update
        flow_scale=False,            # size predicted from LK points inside the box: off until tuned
        flow_trust=0.5,              # with flow_scale: the head's size correction × (1 − this)
        min_size=8.0,                # smallest box side, px
        lost=lost.parameters(),      # the lost state shared by every Siamese variant
        reacquire_cos=0.7,           # while lost, only cells whose appearance matches the target's re-acquire
        reacquire_bands=3,           # ... measured in three horizontal bands of the box (tuned, above)
        fc_weight=0.0,               # SiamFC score share: its graphs have none (boxtrack-fc's do)
        fc_confidence=False,         # ... nor in the confidence
        mask_follows=0.0,            # template update: each template keeps its own box's mask (tuned, above)
        box_vote=0.6,                # the box: mean of the 3×3 cells within 0.6 of the winner's score (tuned)
        template_running=False,      # updates blend into the first template (anchored); see above
        fine_k=0,                    # SPM's fine stage: off (a tie on the tuning set, params/spm_lite0.py)
        fine_temperature=2.0,        # its T, not read while off
        fine_confidence=False,       # its likelihood in the confidence: not read while off
        lost_size_frames=6,          # on going lost, the box takes back its size of 6 tracked frames before (tuned)
    )

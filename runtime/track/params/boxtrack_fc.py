"""boxtrack-fc: BoxTrack's box head and SiamFC-Lite0's whole-template score from one 193² search pass."""
from __future__ import annotations

NAME = "boxtrack-fc"                 # the --tracker name
FAMILY = "boxtrack"                  # the module in runtime/track/ that holds the tracker class
TRACKER = "BoxTrackTracker"          # the tracker class
MODEL = "boxtrack-fc"                # the exported model whose template and search graphs it runs

# Every value but fc_weight / fc_confidence / lost_size_frames / box_vote / mask_follows is boxtrack-fast's
# (params/boxtrack_fast.py, where each is argued; a test keeps the rest equal): the box branch is boxtrack-fast's
# network, on a 193² crop instead of 225² (edgecv/models/boxtrack_fc.py says why).
#
# fc_weight / fc_confidence, chosen on training material only, first on a 225² crop (bench/tune_track.py --tracker
# boxtrack-fc --precision int8 --grid fc_weight=0.2,0.35,0.5,0.7 fc_confidence=true,false --synth 8 --synth-tilt 50
# --synth-opening 70 --synth-occlusion --occlude-tracklets; 51 sequences; bench/results/boxtrack-fc-tuning.json). Off
# (weight 0): pooled AUC 0.762. In the pick only: 0.766 at every weight from 0.2 to 0.7, the gain all on the occluded
# pedestrian tracklets (0.678 -> 0.700), no part losing. In the confidence too: 0.760 / 0.756 / 0.768 / 0.765 at 0.2 /
# 0.35 / 0.5 / 0.7, gaining on the synthetic occlusions (0.569 -> 0.609 at 0.5) and losing on every unoccluded part
# (tracklets 0.804 -> 0.800, turning 0.854 -> 0.847). Taken: 0.5 in the pick only, within 0.002 of the best, flat
# across the weights where the confidence blend swings by 0.012 between neighbours, and losing nowhere. (A first try
# blended sigmoid(fc) instead of the share of the init peak: both maps saturate at 1 on the target and on a
# look-alike, 0.763-0.766 in the pick only.) On the shipped 193² crop (--grid fc_weight=0.3,0.5,0.7
# fc_confidence=true,false): 0.5 in the pick only is again the best, 0.768, but off ties it there (0.768): at 193² the
# blend is a tie on this material, kept at the value chosen first.

# lost_size_frames (bench/tune_track.py --tracker boxtrack-fc --precision int8 --grid lost_size_frames=0,3,6 and
# =10,15,25 with the size alone restored, then =6,10,15 with the rule below (runtime/track/boxtrack.py: restore_size);
# the material above; bench/results/boxtrack-lost-size.json): size alone: 0.768 (off) / 0.770 / 0.771 / 0.776 / 0.776
# / 0.769 at 0 / 3 / 6 / 10 / 15 / 25; restoring only the axes that shrank, anchored on the side that held still (the
# shipped rule): 0.777 at 6, 10 and 15, the gain on the synthetic occlusions (a block slides over the object: 0.577 ->
# 0.632 at 10), the real occluded tracklets within 0.005, the parts without occlusion unchanged (they never go lost).
# 10: the middle of the flat best.

# box_vote (bench/tune_track.py --tracker boxtrack-fc --precision int8 --grid box_vote=0,0.3,0.6,1.0, the material
# above; bench/results/boxtrack-vote.json): 0.777 (off) / 0.783 / 0.782 / 0.782, the gain on the turning and opening
# parts (0.855 -> 0.869, 0.825 -> 0.834: the box's size) and the real tracklets (0.806 -> 0.809), none losing more
# than 0.003. 0.3: the best.
# mask_follows (--grid box_vote=0.3 mask_follows=0,0.5,0.7,0.85,1): 0.783 / 0.784 / 0.785 / 0.781 / 0.782, a tie
# within 0.004; 1 loses on the synthetic opening part (0.834 -> 0.811: the box overshoots the target's new aspect, the
# mask following the overshoot) and gains on the synthetic occlusions. 0.7: the best, the opening part unchanged.

# template_running (--grid template_running=false,true template_lr=0.15,0.3, 2026-12-07; then update_above=0.6,0.8
# update_every=5,10 and mask_follows=0.7,1 with it on): anchored 0.785 (lr 0.3) / 0.780 (0.15), running 0.787 / 0.789;
# running gains on the opening part at lr 0.3 (0.834 -> 0.847) and loses on the turning part (0.864 -> 0.854), the
# other settings move it by <= 0.002. A tie within the parts' swing: anchored stays. (A dev-set probe after the fact,
# lr 0.15: 0.697 against 0.703, visp_mire_hand 0.683 against 0.694: the template is not what holds the box short.)

# cf_weight / cf_lr, the online correlation filter on the search features (bench/tune_track.py --tracker boxtrack-fc
# --precision int8 --grid cf_weight=0,0.15,0.3,0.5 cf_lr=0.02,0.08, the material above with --cross-tracklets,
# 2026-12-07; BENCHMARKS.md#boxtrack-online): 0.782 off against 0.782 / 0.781 (weight 0.15, lr 0.02 / 0.08), 0.779 /
# 0.781 (0.3) and 0.776 / 0.779 (0.5); no part gains by more than 0.002 and the synthetic occlusions lose (0.646 ->
# 0.608 at 0.5). The pick it would correct is rarely wrong on this material: off. On, it costs about 1.1 ms a frame as
# written (a response and a refit, each a float64 FFT of 96 × 13 × 13; measured in a tight loop).


def parameters():
    from ..boxtrack import BoxTrackParams
    from . import lost

    return BoxTrackParams(
        window_influence=0.455,      # cosine window blended into the penalised score (NanoTrack's value)
        size_penalty=0.138,          # k of SiamRPN's size/aspect change penalty (NanoTrack's value)
        size_lr=0.5,                 # box-size update rate × the winning cell's score and penalty (boxtrack-fast's)
        cf_weight=0.0,               # online correlation filter's share of the cell score: off (tuned, above)
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
        lost_size_frames=10,         # on going lost, the box takes back its size of 10 tracked frames before (tuned)
        mask_follows=0.7,            # template update: the mask's box 0.7 of the way init -> current, in log (tuned)
        box_vote=0.3,                # the box: mean of the 3×3 cells within 0.3 of the winner's score (tuned)
        template_running=False,      # updates blend into the first template (anchored); see above
        fine_k=0,                    # SPM's fine stage: off (a tie on the tuning set, params/spm_lite0.py)
        fine_temperature=2.0,        # its T, not read while off
        fine_confidence=False,       # its likelihood in the confidence: not read while off
    )

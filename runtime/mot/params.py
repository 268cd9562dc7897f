"""Every multi-object tracking variant in one place: frozen parameter sets in a registry.

A variant is a :class:`MotParams`; :func:`get_params` looks one up by name (``edgecv eval mot --variants``).
All variants share one machinery (:class:`~.tracker.MultiTracker`: a constant-velocity Kalman filter per track,
Hungarian matching); they differ only in the values below.

Published defaults used here (the papers' figures, taken as facts):

- SORT (Bewley et al., ICIP 2016; reference code ``sort.py``): IoU below 0.3 rejects a match, a track is
  deleted when it has gone undetected for more than ``max_age = 1`` frame, and it is reported after
  ``min_hits = 3`` associated frames.
- DeepSORT (Wojke et al., ICIP 2017): Mahalanobis gate at the 0.95 chi-square quantile with 4 degrees of
  freedom (9.4877), cosine-distance gate 0.2 (``max_cosine_distance`` of the reference app), tracks confirmed
  after 3 frames and kept 30 frames (``max_age = 30``) while lost.
- ByteTrack (Zhang et al., ECCV 2022, §4.1): high score threshold τ_high = 0.6, low threshold τ_low = 0.1,
  a new track only from a detection scoring above ε = 0.7, matches with IoU below 0.2 rejected (a cost of
  1 − IoU above 0.8) and lost tracks kept 30 frames. Its reference code also matches the second stage at
  IoU ≥ 0.5, unconfirmed tracks at IoU ≥ 0.3, and multiplies IoU by the detection score in the first stage
  (``fuse_score``, its MOT17 setting).

Values that are edgecv's own choices say so on their line.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from .errors import MotError

__all__ = ["MotParams", "VARIANTS", "get_params", "variant_names", "CHI2_95_4DOF"]

CHI2_95_4DOF = 9.4877  # 0.95 quantile of the chi-square distribution with 4 degrees of freedom


@dataclass(frozen=True)
class MotParams:
    """One tracker variant. Costs are distances in [0, 1] (1 − IoU, cosine distance); lower is better."""

    name: str
    high_thresh: float          # detections scoring >= this enter the first association (and may start tracks)
    low_thresh: float           # with second_pass: detections in [low_thresh, high_thresh) enter the second one
    second_pass: bool           # ByteTrack's second association of low-score detections (IoU only)
    new_track_thresh: float     # an unmatched high-score detection starts a track only if it scores >= this
    match_max_cost: float       # first association: a pair costing more stays unmatched
    second_max_cost: float      # second association (low-score detections): max 1 − IoU
    tentative_max_cost: float   # tentative tracks against the high-score detections left over
    tentative_pass: bool        # tentative tracks in their own pass after the confirmed ones (else together)
    min_hits: int               # a tentative track is confirmed (and gets its id) after this many matches
    max_age: int                # a lost track is removed after this many frames without a match
    fuse_score: bool            # first association: cost 1 − IoU·score instead of 1 − IoU (ByteTrack code)
    appearance_weight: float    # with embeddings: cost = w·cosine distance + (1 − w)·(1 − IoU); 0 = IoU only
    appearance_gate: float      # with embeddings: a cosine distance above this forbids the pair
    motion_gate: bool           # forbid pairs outside the Kalman filter's 95% gate (Mahalanobis, 4 dof)
    iou_gate: bool              # forbid pairs that do not overlap at all (IoU = 0) even when appearance agrees
    ema: float                  # track embedding ← ema·old + (1 − ema)·new, then normalised

    def __post_init__(self):
        checks = [
            (0.0 <= self.low_thresh <= self.high_thresh <= 1.0, "needs 0 <= low_thresh <= high_thresh <= 1"),
            (0.0 <= self.new_track_thresh <= 1.0, "needs 0 <= new_track_thresh <= 1"),
            (all(0.0 < c <= 2.0 for c in (self.match_max_cost, self.second_max_cost, self.tentative_max_cost)),
             "needs every max cost in (0, 2]"),
            (self.min_hits >= 1 and self.max_age >= 1, "needs min_hits >= 1 and max_age >= 1"),
            (0.0 <= self.appearance_weight <= 1.0, "needs 0 <= appearance_weight <= 1"),
            (0.0 <= self.appearance_gate <= 2.0, "needs 0 <= appearance_gate <= 2"),
            (0.0 <= self.ema < 1.0, "needs 0 <= ema < 1"),
        ]
        for ok, why in checks:
            if not ok:
                raise MotError(f"MOT variant {self.name!r}: {why}")

    def as_dict(self) -> dict:
        return asdict(self)

    def for_detector(self, operating_point: float | None) -> MotParams:
        """These values with the score thresholds moved to a detector's operating point.

        The papers' thresholds (τ_high 0.6, ε 0.7) are set for a YOLOX-class detector's scores; another detector's
        scores live on another scale (edgecv's CenterNet-style heatmap peaks sit lower). So τ_high becomes the
        detector's operating point (its F1-optimal score, chosen on training frames and carried in its manifest),
        ε keeps its margin above τ_high, and τ_low stays (capped at τ_high). ``None``: unchanged."""
        if operating_point is None:
            return self
        op = float(operating_point)
        if not 0.0 < op < 1.0:
            raise MotError(f"MOT variant {self.name!r}: detector operating point must be in (0, 1), got {op}")
        return self.with_(high_thresh=op, low_thresh=min(self.low_thresh, op) if self.second_pass else op,
                          new_track_thresh=round(min(1.0, op + (self.new_track_thresh - self.high_thresh)), 6))

    def score_floor(self) -> float:
        """The lowest detection score this variant uses (τ_low with the second pass, else τ_high): decoding the
        detector's heatmap below it only costs time."""
        return float(self.low_thresh if self.second_pass else self.high_thresh)

    def with_(self, **changes) -> MotParams:
        """A copy with some values changed (checked again)."""
        return replace(self, **changes)


SORT = MotParams(
    name="sort",
    high_thresh=0.6,            # edgecv: ByteTrack's τ_high, so sort and bytetrack differ only by the second pass
    low_thresh=0.6,             # no second pass: detections below high_thresh are dropped
    second_pass=False,
    new_track_thresh=0.6,       # every kept detection may start a track (SORT has no separate birth threshold)
    match_max_cost=0.7,         # SORT: IoU_min 0.3
    second_max_cost=0.7,        # unused (no second pass)
    tentative_max_cost=0.7,     # unused (tentative tracks join the single pass)
    tentative_pass=False,       # SORT: one Hungarian pass over every track
    min_hits=3,                 # SORT: min_hits 3
    max_age=1,                  # SORT: max_age 1
    fuse_score=False,
    appearance_weight=0.0,      # IoU only
    appearance_gate=2.0,        # unused
    motion_gate=False,
    iou_gate=True,
    ema=0.9,                    # unused
)

APPEARANCE = MotParams(
    name="appearance",
    high_thresh=0.6,            # edgecv: as sort
    low_thresh=0.6,
    second_pass=False,
    new_track_thresh=0.6,
    match_max_cost=0.7,         # edgecv: fused cost; inside the 0.2 gate (w = 0.5) a match passes at any IoU
    second_max_cost=0.7,        # unused
    tentative_max_cost=0.7,     # DeepSORT: IoU matching of unconfirmed tracks, max IoU distance 0.7
    tentative_pass=True,        # DeepSORT: confirmed tracks by appearance first, then IoU for the rest
    min_hits=3,                 # DeepSORT: n_init 3
    max_age=30,                 # DeepSORT: max_age 30 (appearance can re-identify after an occlusion)
    fuse_score=False,
    appearance_weight=0.5,      # edgecv: equal weight of cosine distance and 1 − IoU
    appearance_gate=0.2,        # DeepSORT: max_cosine_distance 0.2
    motion_gate=True,           # DeepSORT: chi-square 0.95 gate (9.4877)
    iou_gate=False,             # a lost track re-identified by appearance may no longer overlap its prediction
    ema=0.9,                    # edgecv: the smoothing factor FairMOT and BoT-SORT use for track embeddings
)

BYTETRACK = MotParams(
    name="bytetrack",
    high_thresh=0.6,            # ByteTrack: τ_high 0.6
    low_thresh=0.1,             # ByteTrack: τ_low 0.1
    second_pass=True,
    new_track_thresh=0.7,       # ByteTrack: ε 0.7
    match_max_cost=0.8,         # ByteTrack: IoU below 0.2 rejected
    second_max_cost=0.5,        # ByteTrack code: second stage at IoU >= 0.5
    tentative_max_cost=0.7,     # ByteTrack code: unconfirmed tracks at IoU >= 0.3
    tentative_pass=True,
    min_hits=2,                 # ByteTrack code: a new track is activated on its second matched frame
    max_age=30,                 # ByteTrack: lost tracks kept 30 frames
    fuse_score=True,            # ByteTrack code (MOT17 setting)
    appearance_weight=0.0,      # IoU only, even when embeddings are given
    appearance_gate=2.0,        # unused
    motion_gate=False,
    iou_gate=True,
    ema=0.9,                    # unused
)

VARIANTS: dict[str, MotParams] = {p.name: p for p in (SORT, APPEARANCE, BYTETRACK)}
_ALIASES = {"deepsort-lite": "appearance", "byte": "bytetrack"}


def variant_names() -> list[str]:
    return list(VARIANTS)


def get_params(name: str) -> MotParams:
    """The parameters of a named variant (``sort``, ``appearance`` alias ``deepsort-lite``, ``bytetrack``)."""
    key = _ALIASES.get(name, name)
    if key not in VARIANTS:
        raise MotError(f"unknown MOT variant {name!r}; choose from {', '.join(VARIANTS)}")
    return VARIANTS[key]

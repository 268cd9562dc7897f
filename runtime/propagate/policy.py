"""Key-frame policies: when the loop runs the heavy feature net instead of warping the last key's features.

Logic and numbers are kept apart (pytracking style): each policy takes one parameter dataclass, so tuning
never touches the loop. A policy answers twice per frame:

- ``before_flow(since_key)``: a key frame now, without running the flow net (fixed schedule, max interval);
- ``after_flow(signals, since_key)``: a key frame after all, given the flow net's answer on this frame.

Each returns the reason (a short string recorded per frame) or None. ``since_key`` is the distance of the
current frame from the key frame (1 on the frame right after it).

The signals (:func:`flow_signals`) measure how well the flow explains the current frame: the key and
current frames in grey, resized to the feature grid (40×32 for ``dff-seg``) with ``INTER_AREA`` — each cell
the mean of the frame pixels that feature cell covers — the key warped by the flow with ``cv2.remap``
(map = grid + flow, border replicated, as the graph's warp), then ``|current − warped key|`` per cell in
[0, 1] grey units. A cell is *unreliable* when that error exceeds τ: the flow could not find where its
content came from (occlusion, a shot cut, a damaged frame, motion the flow net missed). This check does not
trust the flow net: a weak or untrained one that answers zero flow still sees a shot cut, since nearly
every cell of the new shot differs from the old key.

Adaptive defaults, from the unreliable fraction on the opencv-doc clips and a small search on
*training-split* composite clips (6 clips × 30 frames, seed 99; the held-out clips never tuned anything):

- τ = 0.08: about 20 grey levels on a cell's mean (its 8×8 pixels of the 320×256 input);
- ``max_unreliable`` = 0.15: Megamind.avi's shot cuts (frames 98, 154, 200) give 0.44–0.53 with the
  trained flow net; within a shot, up to 20 frames from the key, the median is 0.06, the 95th percentile
  0.15. vtest.avi (static camera, walkers) stays under 0.07. On the tuning clips 0.15 kept 92.1% of
  per-frame mIoU at 10.6% key frames, 0.25 kept 91.9% at 10.0%: within a shot the signal adds little
  over the interval bound; its work is catching cuts and damaged frames;
- ``max_flow`` = 3 feature pixels (24 pixels of the 320×256 input) mean magnitude: large motion is where
  warped features degrade first (blur, content entering at the border); 1.5 changed nothing measurable;
- ``max_interval`` = 10 frames, DFF's usual K: with 20 the tuning clips fell to 86.6–90.5% of per-frame
  mIoU, since the flow net's error grows with the distance to the key.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .base import PropagateError

__all__ = ["Signals", "flow_signals", "grey_grid", "warp_grid", "FixedIntervalParams", "FixedInterval",
           "AdaptiveParams", "Adaptive", "make_policy", "PHOTOMETRIC_TAU"]

PHOTOMETRIC_TAU = 0.08


@dataclass
class Signals:
    """How well the flow explains the current frame (see the module docstring)."""
    unreliable: float        # fraction of feature cells with photometric error > τ
    photometric: float       # mean |current − warped key| over the cells, [0, 1] grey
    flow_mean: float         # mean flow magnitude, feature pixels
    flow_max: float          # largest flow magnitude, feature pixels

    def as_dict(self) -> dict:
        return {k: round(float(v), 5) for k, v in asdict(self).items()}


def grey_grid(image_bgr: np.ndarray, grid_hw) -> np.ndarray:
    """A BGR uint8 image → grey float32 in [0, 1] at the feature grid size (h, w), ``INTER_AREA``."""
    import cv2

    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY) if image_bgr.ndim == 3 else image_bgr
    small = cv2.resize(grey, (int(grid_hw[1]), int(grid_hw[0])), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


def warp_grid(key: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``key`` (h, w) at grid + flow; ``flow`` is (2, h, w) or (1, 2, h, w) in grid pixels,
    channel 0 = x, current → key; outside samples take the border value (the graph's warp does too)."""
    import cv2

    flow = np.asarray(flow, np.float32).reshape(2, *key.shape)
    h, w = key.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(key, gx + flow[0], gy + flow[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def flow_signals(key_grey: np.ndarray, current_grey: np.ndarray, flow: np.ndarray,
                 tau: float = PHOTOMETRIC_TAU) -> Signals:
    """The signals for one frame from the key's and the current frame's grey grids and the flow between."""
    flow = np.asarray(flow, np.float32).reshape(2, *key_grey.shape)
    err = np.abs(current_grey - warp_grid(key_grey, flow))
    mag = np.sqrt(flow[0] ** 2 + flow[1] ** 2)
    return Signals(float((err > tau).mean()), float(err.mean()), float(mag.mean()), float(mag.max()))


@dataclass
class FixedIntervalParams:
    k: int = 10                    # a key frame every k frames: 0, k, 2k, ...; k = 1 is per-frame inference


class FixedInterval:
    """DFF's schedule: a key frame every ``k`` frames, whatever the content."""

    name = "fixed"

    def __init__(self, params: FixedIntervalParams | int | None = None):
        if isinstance(params, (int, np.integer)):
            params = FixedIntervalParams(int(params))
        self.params = params or FixedIntervalParams()
        if not isinstance(self.params.k, (int, np.integer)) or self.params.k < 1:
            raise PropagateError(f"key interval must be an integer ≥ 1, got {self.params.k!r}")

    def before_flow(self, since_key: int) -> str | None:
        return "interval" if since_key >= self.params.k else None

    def after_flow(self, signals: Signals, since_key: int) -> str | None:
        return None

    def describe(self) -> dict:
        return {"name": self.name, **asdict(self.params)}


@dataclass
class AdaptiveParams:
    tau: float = PHOTOMETRIC_TAU   # per-cell photometric error (grey, [0, 1]) above which a cell is unreliable
    max_unreliable: float = 0.15   # a new key frame when more than this fraction of cells is unreliable
    max_flow: float = 3.0          # ... or the mean flow magnitude exceeds this many feature pixels
    max_interval: int = 10         # ... or this many frames have passed since the key frame


class Adaptive:
    """A new key frame when the flow net cannot explain the frame, the motion is large, or the key is old."""

    name = "adaptive"

    def __init__(self, params: AdaptiveParams | None = None):
        self.params = p = params or AdaptiveParams()
        if not 0 < p.tau < 1:
            raise PropagateError(f"adaptive policy: tau must lie in (0, 1), got {p.tau}")
        if not 0 <= p.max_unreliable <= 1:
            raise PropagateError(f"adaptive policy: max_unreliable must lie in [0, 1], got {p.max_unreliable}")
        if p.max_flow <= 0:
            raise PropagateError(f"adaptive policy: max_flow must be > 0, got {p.max_flow}")
        if int(p.max_interval) < 1:
            raise PropagateError(f"adaptive policy: max_interval must be ≥ 1, got {p.max_interval}")

    def before_flow(self, since_key: int) -> str | None:
        return "max-interval" if since_key >= self.params.max_interval else None

    def after_flow(self, signals: Signals, since_key: int) -> str | None:
        if signals.unreliable > self.params.max_unreliable:
            return "unreliable"
        if signals.flow_mean > self.params.max_flow:
            return "motion"
        return None

    def describe(self) -> dict:
        return {"name": self.name, **asdict(self.params)}


def make_policy(key_interval) -> FixedInterval | Adaptive:
    """``K`` (int or digit string) → :class:`FixedInterval`; ``"auto"`` → :class:`Adaptive` with defaults;
    a policy object is returned as is."""
    if hasattr(key_interval, "before_flow") and hasattr(key_interval, "after_flow"):
        return key_interval
    if isinstance(key_interval, str):
        s = key_interval.strip().lower()
        if s == "auto":
            return Adaptive()
        try:
            key_interval = int(s)
        except ValueError:
            raise PropagateError(f"key interval {key_interval!r}: expected an integer K ≥ 1 or 'auto'") from None
    if isinstance(key_interval, bool) or not isinstance(key_interval, (int, np.integer)):
        raise PropagateError(f"key interval {key_interval!r}: expected an integer K ≥ 1 or 'auto'")
    return FixedInterval(FixedIntervalParams(int(key_interval)))

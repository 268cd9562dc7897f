"""What every single-object tracker shares: boxes, per-frame results, input checks.

Boxes are ``(x, y, w, h)`` in pixels, top-left corner, the OTB convention. Frames are BGR ``uint8``
arrays as OpenCV reads them; grayscale frames are accepted and turned into 3 channels.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ..engine import as_bgr as _as_bgr
from ..errors import EdgeCVError

NO_EXTRA: Mapping = MappingProxyType({})   # one read-only empty mapping for every result without extras


class TrackError(EdgeCVError):
    """Bad tracking input: an init box outside the frame or of zero area, an empty frame, ..."""


@dataclass(slots=True)
class TrackResult:
    """One frame's answer (slotted: a long run keeps one per frame, ~30% smaller than with a ``__dict__``).

    ``box``: axis-aligned (x, y, w, h). ``score``: the tracker's confidence in [0, 1] (its own scale,
    comparable across frames of one tracker, not across trackers). ``lost``: the tracker believes the
    target is not visible (left the frame, occluded); ``box`` then holds the last confident box.
    ``rotated``: ((cx, cy), (w, h), angle_degrees) as ``cv2.RotatedRect`` for trackers that estimate
    rotation, else None.
    """
    box: tuple[float, float, float, float]
    score: float
    lost: bool = False
    rotated: tuple | None = None
    extra: Mapping = field(default_factory=lambda: NO_EXTRA)   # tracker-specific figures (MOSSE's PSR, ...)


def as_bgr(frame: np.ndarray, index: int | None = None, error: type[Exception] = TrackError) -> np.ndarray:
    """The engine's frame check (:func:`edgecv.runtime.engine.as_bgr`), raising :class:`TrackError` by default."""
    return _as_bgr(frame, index, error)


def check_init_box(box, frame_shape) -> tuple[float, float, float, float]:
    """Validate an initial box against the frame: finite, positive area, mostly inside the image."""
    try:
        x, y, w, h = (float(v) for v in box)
    except (TypeError, ValueError):
        raise TrackError(f"init box {box!r} must be four numbers x,y,w,h") from None
    H, W = frame_shape[:2]
    if not all(np.isfinite([x, y, w, h])):
        raise TrackError(f"init box {box!r} has non-finite values")
    if w <= 0 or h <= 0:
        raise TrackError(f"init box {x:g},{y:g},{w:g},{h:g} has zero area (w and h must be > 0)")
    ix = max(0.0, min(x + w, W) - max(x, 0.0))
    iy = max(0.0, min(y + h, H) - max(y, 0.0))
    if ix * iy < 0.5 * w * h:
        raise TrackError(f"init box {x:g},{y:g},{w:g},{h:g} lies outside the {W}×{H} frame "
                         f"(less than half of it is inside)")
    return x, y, w, h


def clip_box(box, frame_shape, min_size: float = 4.0) -> tuple[float, float, float, float]:
    """Keep a box's centre inside the frame and its size within [min_size, frame size]."""
    H, W = frame_shape[:2]
    x, y, w, h = box
    w = float(np.clip(w, min_size, W))
    h = float(np.clip(h, min_size, H))
    cx = float(np.clip(x + w / 2, 0, W))
    cy = float(np.clip(y + h / 2, 0, H))
    return cx - w / 2, cy - h / 2, w, h


def iou(a, b) -> float:
    """IoU of two (x, y, w, h) boxes."""
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


class Tracker:
    """Base class: ``init(frame, box)`` once, then ``update(frame)`` per frame → :class:`TrackResult`.

    Subclasses implement ``_init(frame, box)`` and ``_update(frame) -> TrackResult`` on checked,
    3-channel frames. ``name`` identifies the tracker in results and plots.
    """

    name = "tracker"

    def __init__(self):
        self.frame_index = -1
        self.box: tuple | None = None

    def init(self, frame: np.ndarray, box) -> TrackResult:
        frame = as_bgr(frame, 0)
        box = check_init_box(box, frame.shape)
        self.frame_index = 0
        self._init(frame, box)
        self.box = box
        return TrackResult(box, 1.0)

    def update(self, frame: np.ndarray) -> TrackResult:
        if self.box is None:
            raise TrackError(f"{self.name}: update() before init()")
        self.frame_index += 1
        res = self._update(as_bgr(frame, self.frame_index))
        self.box = res.box
        return res

    def _init(self, frame: np.ndarray, box) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def _update(self, frame: np.ndarray) -> TrackResult:  # pragma: no cover - interface
        raise NotImplementedError

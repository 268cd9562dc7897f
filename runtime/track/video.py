"""Run one tracker over a video through the loop engine (:mod:`edgecv.runtime.engine`): boxes file,
annotated mp4, progress on stderr, damaged frames skipped and counted.

A frame that cannot be read keeps the last box: its result is that box with score NaN and ``lost`` as
before, and ``extra["skipped"]`` says why; in the boxes file its line is ``x,y,w,h,nan`` — so the file has
one line per source frame and a reader can tell a carried box (score ``nan``) from a measured one.
"""
from __future__ import annotations

import numpy as np

from ..engine import Outputs, open_source, run, warner
from .base import Tracker, TrackError, TrackResult, as_bgr
from .sequences import box_line

__all__ = ["track_video", "draw_result", "TrackRun"]

GREEN, RED, YELLOW, WHITE, BLACK = (0, 200, 0), (0, 0, 255), (0, 220, 255), (255, 255, 255), (0, 0, 0)


def _dashed_rect(img, p0, p1, color, thickness=2, dash=8):
    """OpenCV has no dashed lines: draw every other ``dash``-pixel segment of the four sides."""
    import cv2

    (x0, y0), (x1, y1) = p0, p1
    for a, b in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))):
        length = max(abs(b[0] - a[0]), abs(b[1] - a[1]))
        for s in range(0, max(1, length), 2 * dash):
            e = min(s + dash, length)
            t0, t1 = s / max(1, length), e / max(1, length)
            q0 = (int(round(a[0] + (b[0] - a[0]) * t0)), int(round(a[1] + (b[1] - a[1]) * t0)))
            q1 = (int(round(a[0] + (b[0] - a[0]) * t1)), int(round(a[1] + (b[1] - a[1]) * t1)))
            cv2.line(img, q0, q1, color, thickness, cv2.LINE_AA)


def draw_result(frame: np.ndarray, res: TrackResult, index: int, label: str = "") -> np.ndarray:
    """A copy of ``frame`` with the box (green tracking, red dashed when lost), the rotated box if any,
    and ``#index label score`` text."""
    import cv2

    img = as_bgr(frame, index).copy()
    x, y, w, h = res.box
    p0, p1 = (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h)))
    if res.lost:
        _dashed_rect(img, p0, p1, RED)
    else:
        cv2.rectangle(img, p0, p1, GREEN, 2, cv2.LINE_AA)
    if res.rotated is not None:
        pts = cv2.boxPoints(res.rotated).round().astype(np.int32)
        cv2.polylines(img, [pts], True, RED if res.lost else YELLOW, 2, cv2.LINE_AA)
    text = " ".join(t for t in (f"#{index}", label, f"{res.score:.2f}", "LOST" if res.lost else "") if t)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
    cv2.rectangle(img, (0, 0), (tw + 8, th + base + 8), BLACK, -1)
    cv2.putText(img, text, (4, th + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.5, RED if res.lost else WHITE, 1, cv2.LINE_AA)
    return img


class TrackRun(list):
    """The per-frame results (a list, one per source frame, empty when not kept), ``skipped``: the indices that
    could not be read, ``frames``: frames with a result, ``lost``: how many of them were reported lost."""

    skipped: list[int]
    frames: int
    lost: int


def track_video(tracker: Tracker, source, init_box, out_video=None, boxes_path=None, progress: bool = True,
                max_frames: int | None = None, *, warn=None, keep_results: bool = True) -> TrackRun:
    """Track one target through ``source`` (a video file, an image folder or an iterable of frames).

    ``init_box`` (x, y, w, h) initialises the tracker on frame 0 (the first readable frame); every later
    frame is an update. Writes ``boxes_path`` (one ``x,y,w,h,score`` line per frame; line 0 is the init box
    with score 1; an unreadable frame's line is the last box with score ``nan``) and ``out_video``
    (annotated mp4, ``mp4v``, at the source's frame rate; an unreadable frame repeats the previous image),
    each checked before any work (an output that is the input is refused), written as the run goes into a
    temp file and renamed into place at the end. Returns the per-frame results, frame 0 included, with
    ``.skipped``; ``keep_results=False`` keeps none of them (only the counts), so memory stays flat however
    long the video (the CLI runs so). ``max_frames`` stops early; warnings (unreadable frames, a frame of
    another size: resized) go to ``warn`` or ``warnings.warn``.
    """
    src = open_source(source, max_frames, error=TrackError)
    outputs = Outputs(out_video, files={"--boxes": boxes_path}, inputs=[source], error=TrackError)
    last: list[TrackResult] = []
    lost = [0]

    def step(i, frame, why):
        res = tracker.update(frame) if last else tracker.init(frame, init_box)
        last[:] = [res]
        return _emit(res)

    def skip(i, why):   # before the first readable frame: the init box; after: the last box
        box, was_lost = (last[0].box, last[0].lost) if last else (tuple(float(v) for v in init_box), False)
        return _emit(TrackResult(box, float("nan"), was_lost, extra={"skipped": why}))

    def _emit(res):
        lost[0] += bool(res.lost)
        outputs.append("--boxes", box_line(res.box, res.score))
        return res

    with outputs:
        r = run(src, step, skip=skip, draw=lambda i, frame, res: draw_result(frame, res, i, tracker.name),
                outputs=outputs, progress=progress, label=tracker.name, warn=warner(warn),
                on_skip="keeping the last box (score nan in the boxes file)", keep=keep_results)
    results = TrackRun(r.results)
    results.skipped, results.frames, results.lost = r.skipped, r.kept, lost[0]
    return results

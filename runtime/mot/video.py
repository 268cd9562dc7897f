"""Multi-object tracking over a video through the loop engine (:mod:`edgecv.runtime.engine`): the detector
(:class:`~.detector.PersonDetector`) and a :class:`~.tracker.MultiTracker` per frame, an annotated MP4, a
MOTChallenge tracks file and a stats JSON, each written to a temp name and renamed into place only when the
whole run succeeded; progress on stderr; damaged frames skipped and counted.

**A frame that cannot be read** is a *predict-only* step: the tracker is called with zero detections, so every
track's Kalman filter coasts one frame (a confirmed track turns lost and its ``max_age`` clock advances, a
tentative one is dropped, exactly as on a frame where the detector saw nobody), and the frame numbers that
follow stay the source's. Nothing is reported for that frame in the tracks file; the annotated video repeats
its previous image, so it keeps one image per source frame.

Tracks file: one ``frame,id,x,y,w,h,score,-1,-1,-1`` line per reported track and frame (MOTChallenge; ``frame``
is the source frame index + 1, ``x,y,w,h`` the Kalman-corrected box in frame pixels, ``score`` the matched
detection's), frames in order, ids in order within a frame, written as the run goes.
"""
from __future__ import annotations

import colorsys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..engine import Outputs, open_source, run, warner
from .associate import linear_assignment
from .errors import MotError
from .motio import MotTable, format_rows
from .params import MotParams, get_params
from .tracker import ActiveTrack, MultiTracker

__all__ = ["mot_video", "MotRun", "FrameTracks", "draw_tracks", "id_color"]

GOLDEN = 0.6180339887498949
WHITE, BLACK = (255, 255, 255), (0, 0, 0)


def id_color(track_id: int) -> tuple[int, int, int]:
    """A stable BGR colour for a track id: hue stepped by the golden ratio, so consecutive ids differ widely
    and an id keeps its colour for the whole video (and across runs)."""
    h = (int(track_id) * GOLDEN) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.85, 0.95)
    return int(b * 255), int(g * 255), int(r * 255)


@dataclass
class FrameTracks:
    """One frame's answer: its source ``index``, the reported ``tracks`` (id, x1 y1 x2 y2, score), the number
    of ``detections`` the detector gave and the milliseconds of ``detect`` and ``associate``."""
    index: int
    tracks: list[ActiveTrack]
    detections: int
    ms_detect: float
    ms_associate: float
    skipped: bool = False


@dataclass
class MotRun:
    """What :func:`mot_video` did: ``stats`` (the dict the stats JSON holds) and, when kept, the per-frame
    results and the reported tracks as a :class:`MotTable` (MOTChallenge frames, 1-based)."""
    stats: dict
    frames: list[FrameTracks] = field(default_factory=list)
    tracks: MotTable | None = None


def draw_tracks(frame: np.ndarray, res: FrameTracks, label: str = "") -> np.ndarray:
    """A copy of ``frame`` with each track's box and ``id`` in its own colour (:func:`id_color`) and a
    ``#index  n tracks`` tag."""
    import cv2

    img = frame.copy()
    font = cv2.FONT_HERSHEY_SIMPLEX
    for t in res.tracks:
        color = id_color(t.id)
        x1, y1, x2, y2 = (int(round(v)) for v in t.box)
        cv2.rectangle(img, (x1, y1), (x2, y2), color, 2, cv2.LINE_AA)
        text = str(t.id)
        (tw, th), base = cv2.getTextSize(text, font, 0.5, 1)
        ty = y1 - th - base - 2 if y1 - th - base - 2 >= 0 else y1
        cv2.rectangle(img, (x1, ty), (x1 + tw + 6, ty + th + base + 2), color, -1)
        cv2.putText(img, text, (x1 + 3, ty + th + 1), font, 0.5, BLACK, 1, cv2.LINE_AA)
    text = " ".join(s for s in (f"#{res.index}", label, f"{len(res.tracks)} tracks") if s)
    (tw, th), base = cv2.getTextSize(text, font, 0.5, 1)
    cv2.rectangle(img, (0, 0), (tw + 8, th + base + 8), BLACK, -1)
    cv2.putText(img, text, (4, th + 4), font, 0.5, WHITE, 1, cv2.LINE_AA)
    return img


def _ms_stats(values: list[float]) -> dict:
    a = np.asarray(values, np.float64)
    if not a.size:
        return {"mean": None, "median": None}
    return {"mean": round(float(a.mean()), 3), "median": round(float(np.median(a)), 3)}


def mot_video(source, detector, params: MotParams | str = "bytetrack", out_video=None, tracks_path=None,
              stats_path=None, progress: bool = True, max_frames: int | None = None, *, warn=None,
              keep_results: bool = True, use_embeddings: bool = True) -> MotRun:
    """Detect and track every person through ``source`` (a video file, an image folder or an iterable of BGR
    frames, ``None`` = unreadable).

    ``detector``: a :class:`~.detector.PersonDetector` (or any callable frame → :class:`~.detector.Detections`;
    its ``describe()`` and ``last_ms``, when present, go into the stats). ``params``: a tracker variant name
    (``sort``, ``appearance`` / ``deepsort-lite``, ``bytetrack`` / ``byte``) or a :class:`MotParams`.
    ``use_embeddings``: pass the detector's embeddings to the tracker (only variants with an appearance weight
    use them).

    Writes ``out_video`` (annotated MP4, ``mp4v``, the source's frame rate; boxes and ids in stable colours),
    ``tracks_path`` (MOTChallenge, see the module docstring) and ``stats_path`` (JSON: ``frames``,
    ``skipped``, ``tracks`` (distinct ids), ``boxes``, ``ms_detector`` / ``ms_association`` mean and median per
    read frame, ``ms_detector_parts``, backend, precision, artifact and its sha256, the variant's values).
    Every output is checked before any work (one that is the input is refused: OutputError) and appears only
    when the run succeeds. Damaged frames are skipped, warned about (``warn`` or ``warnings.warn``) and
    counted; see the module docstring for what the tracker does there. ``keep_results=False`` keeps no
    per-frame results (memory stays flat however long the video; the stats still hold every figure).
    """
    p = get_params(params) if isinstance(params, str) else params
    if not isinstance(p, MotParams):
        raise MotError(f"params must be a variant name or MotParams, got {type(params).__name__}")
    if not callable(detector):
        raise MotError(f"detector must be callable (frame -> Detections), got {type(detector).__name__}")
    src = open_source(source, max_frames, error=MotError)
    outputs = Outputs(out_video, files={"--tracks": tracks_path, "--stats": stats_path},
                      inputs=[source, getattr(detector, "path", None)], error=MotError)
    tracker = MultiTracker(p)
    linear_assignment(np.zeros((1, 1)), 1.0)   # load scipy now (a clear error if missing), not in frame 1's timing
    ms_det: list[float] = []
    ms_assoc: list[float] = []
    parts: dict[str, list[float]] = {}
    ids: set[int] = set()
    counts = {"boxes": 0, "detections": 0, "max_tracks": 0}
    rows: list[tuple] = []
    empty4 = np.zeros((0, 4))

    def associate(i, boxes, scores, emb):
        t0 = time.perf_counter()
        tracks = tracker.update(boxes, scores, emb)
        ms = (time.perf_counter() - t0) * 1e3
        if tracks:
            frame_rows = [(i + 1, t.id, *t.box, t.score) for t in tracks]
            outputs.append("--tracks", format_rows(MotTable.from_rows(frame_rows)))
            if keep_results:
                rows.extend(frame_rows)
            ids.update(t.id for t in tracks)
            counts["boxes"] += len(tracks)
            counts["max_tracks"] = max(counts["max_tracks"], len(tracks))
        return tracks, ms

    def step(i, frame, why):
        t0 = time.perf_counter()
        det = detector(frame)
        t_det = (time.perf_counter() - t0) * 1e3
        for k, v in (getattr(detector, "last_ms", None) or {}).items():
            parts.setdefault(k, []).append(float(v))
        emb = det.embeddings if use_embeddings else None
        tracks, t_assoc = associate(i, det.boxes, det.scores, emb)
        ms_det.append(t_det)
        ms_assoc.append(t_assoc)
        counts["detections"] += len(det)
        return FrameTracks(i, tracks, len(det), t_det, t_assoc)

    def skip(i, why):   # predict-only: the Kalman tracks coast one frame
        tracks, t_assoc = associate(i, empty4, np.zeros(0), None)
        return FrameTracks(i, tracks, 0, 0.0, t_assoc, skipped=True)

    describe = getattr(detector, "describe", None)
    det_info = describe() if callable(describe) else {"detector": type(detector).__name__}
    t_start = time.perf_counter()
    with outputs:
        outputs.append("--tracks", "")      # the file exists even when no track is ever reported
        r = run(src, step, skip=skip, draw=lambda i, frame, res: draw_tracks(frame, res, p.name),
                outputs=outputs, progress=progress, label=f"mot {p.name} {Path(src.name).name}",
                warn=warner(warn), on_skip="skipped (predict-only step: the tracks coast, none is reported)",
                keep=keep_results)
        stats = {
            "video": src.name, "variant": p.name, "params": p.as_dict(), **det_info,
            "frames": r.frames, "read": len(ms_det), "skipped": len(r.skipped), "skipped_indices": r.skipped,
            "tracks": len(ids), "boxes": counts["boxes"], "detections": counts["detections"],
            "max_tracks_per_frame": counts["max_tracks"],
            "ms_detector": _ms_stats(ms_det), "ms_association": _ms_stats(ms_assoc),
            "ms_detector_parts": {k: _ms_stats(v)["median"] for k, v in parts.items()},
            "frame_size": [int(r.size[0]), int(r.size[1])] if r.size else None, "fps_in": round(src.fps, 3),
            "wall_s": round(time.perf_counter() - t_start, 3),
        }
        outputs.write("--stats", stats)
    table = MotTable.from_rows(rows) if keep_results else None
    return MotRun(stats, r.results if keep_results else [], table)

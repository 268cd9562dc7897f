"""The one video loop engine: a frame source, atomic outputs, one progress bar and the per-frame loop.

Tracking, propagation and colorization supply only their per-frame ``step``, their ``draw`` and what a
skipped frame becomes (:func:`run`); reading, damage handling, writing and progress live here once.

**The source** (:func:`open_source`) takes a video file, an image folder (sorted by name) or an iterable of
frames (``None`` = unreadable) and must get past damaged input instead of stopping at it. What OpenCV's
``VideoCapture`` does:

- A frame whose compressed data cannot be decoded makes ``read()`` return False *in the middle of the
  file*, and the next ``read()`` returns the frame after it (checked with an MJPG AVI whose frame 6 had its
  JPEG header zeroed: frames 0–5, one failed read, frames 7–11). A loop that stops at the first failed read
  silently drops the rest of the video. So the source keeps reading past failures while the container's
  frame count (``CAP_PROP_FRAME_COUNT``) says frames remain, or — when the count is unknown or wrong —
  until ``max_failures`` reads in a row have failed, and yields each failed index as a skipped frame.
- opencv-doc's ``Megamind_bugy.avi`` (the clip of ``Megamind.avi`` with damage, for OpenCV's PSNR/SSIM
  tutorial) decodes without a single failed read: 270 frames of 720×528, as ``Megamind.avi``. Its damage
  is in the pixels, on every fifth frame from 5 to 115, from faint to gross: a white line (10), a white
  box (40), a mirrored picture (75), a black band (95), a green band (100), a smeared strip (115); and
  frame 71 repeats frame 70. The file also says 30 fps where ``Megamind.avi`` says 23.976. Nothing tells
  those frames apart at decode time; the adaptive key-frame policy sees the gross ones as frames the flow
  cannot explain and starts a key frame there (and again on the next, clean frame).

Each item is ``(index, frame or None, why)``: ``index`` counts source frames (failed ones included); a
``None`` frame could not be read (or is not an image: empty, wrong dtype or shape) and ``why`` says so,
naming the file. Frames come out as contiguous 3-channel BGR uint8.

**Frames of another size** (an image folder of mixed sizes, an iterable): one behaviour for every loop —
the frame is resized to frame 0's size (``INTER_AREA``) and yielded with a ``why`` that says so; the loop
warns once (the first such frame) and a loop with state may restart it (propagation starts a key frame).
Outputs and boxes stay in frame 0's pixel grid. Neither silently stretched nor the whole run refused.

**Outputs** (:class:`Outputs`) follow :mod:`.outputs`: every path is checked (and refused if it is an
input) before any work; the annotated video (``mp4v``, the source's frame rate), the masks folder
(``000000.png`` ... by source index) and text/JSON files are written beside their targets and moved into
place only when the whole run succeeded.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .errors import EdgeCVError
from .outputs import atomic_dir, atomic_path, check_outputs

__all__ = ["IMAGE_EXTS", "Item", "Source", "open_source", "as_bgr", "Outputs", "Progress", "Run", "run",
           "FrameWarning", "warner"]

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
MAX_WARNED_SKIPS = 10


class FrameWarning(UserWarning):
    """A recoverable problem in a video: a frame that could not be read, a frame of another size."""


def warner(warn: Callable[[str], None] | None, category: type[Warning] = FrameWarning) -> Callable[[str], None]:
    """``warn`` itself, or one that calls ``warnings.warn`` with ``category`` (a loop's own warning class)."""
    if warn is not None:
        return warn
    return lambda msg: warnings.warn(msg, category, stacklevel=4)


def as_bgr(frame: np.ndarray, index: int | None = None, error: type[Exception] = EdgeCVError) -> np.ndarray:
    """Check a frame and return it as a contiguous 3-channel uint8 image (grayscale is expanded, alpha
    dropped); a bad frame raises ``error`` (the calling loop's own error class)."""
    where = f"frame {index}" if index is not None else "frame"
    if frame is None or not hasattr(frame, "shape") or frame.size == 0:
        raise error(f"{where} is empty")
    if frame.dtype != np.uint8:
        raise error(f"{where} has dtype {frame.dtype}; expected uint8 pixels")
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        frame = np.repeat(frame.reshape(frame.shape[0], frame.shape[1], 1), 3, axis=2)
    elif frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise error(f"{where} has shape {frame.shape}; expected H×W, H×W×1, H×W×3 or H×W×4")
    if frame.shape[2] == 4:
        frame = frame[:, :, :3]
    return np.ascontiguousarray(frame)


# ------------------------------------------------------------------------------------------------- source


class Item(NamedTuple):
    index: int
    frame: np.ndarray | None    # None: could not be read
    why: str                    # "" for a clean frame; why it was skipped, or how it was changed (resized)


@dataclass
class Source:
    frames: Iterator             # of Item
    total: int | None            # frame count when known (the container's, which may be approximate)
    fps: float
    name: str
    path: Path | None = None     # the file or folder read (an input for the output checks)
    error: type[Exception] = EdgeCVError


def _video(path: Path, max_failures: int, error) -> tuple[Iterator, int | None]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise error(f"cannot open video {path} (not a video file, or a codec OpenCV cannot decode)")
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
            raise error(f"video {path} has no readable frames (empty or corrupt file)")
        # failures at the end are damage only where the container promised more frames
        for j in failed:
            if total is not None and j < total:
                yield j, None, f"{path}: frame {j} could not be decoded (the last decodable frame was earlier)"

    return frames(), total


def _folder(folder: Path, error) -> tuple[Iterator, int]:
    import cv2

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise error(f"image folder {folder} has no {'/'.join(IMAGE_EXTS)} files")

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
            raise error(f"image folder {folder}: none of its {len(files)} images could be read")

    return frames(), len(files)


def _iterable(source, error) -> Iterator:
    n = 0
    for i, f in enumerate(source):
        if f is None:
            yield i, None, f"frame {i} is missing (None)"
        else:
            n += 1
            yield i, f, ""
    if n == 0:
        raise error("the frame sequence gave no frames")


def _checked(items: Iterator, name: str, error, max_frames: int | None) -> Iterator[Item]:
    """Frames as 3-channel BGR (a bad array becomes a skipped frame), of frame 0's size, at most ``max_frames``."""
    import cv2

    size = None
    for n, (i, frame, why) in enumerate(items):
        if max_frames is not None and n >= max_frames:
            return
        if frame is not None:
            try:
                frame = as_bgr(frame, i, error)
            except EdgeCVError as e:
                frame, why = None, f"{name}: {e}"
        if frame is not None:
            if size is None:
                size = frame.shape[:2]
            elif frame.shape[:2] != size:
                (h, w), (H, W) = frame.shape[:2], size
                why = (f"{name}: frame {i} is {w}×{h}, the first frame was {W}×{H}; resizing such frames to "
                       f"{W}×{H} for the outputs (further size changes are not reported)")
                frame = cv2.resize(frame, (W, H), interpolation=cv2.INTER_AREA)
        yield Item(i, frame, why)


def open_source(source, max_frames: int | None = None, max_failures: int = 25,
                error: type[Exception] = EdgeCVError) -> Source:
    """A video path, an image folder (sorted by name) or an iterable of frames (``None`` = unreadable).

    Raises ``error`` (the calling loop's class) when the path is missing, the video cannot be opened,
    ``max_frames`` is below 1, or (while iterating) nothing at all could be read. ``max_failures``:
    consecutive failed reads after which a video whose frame count is unknown is taken to have ended.
    """
    import cv2

    if max_frames is not None and int(max_frames) < 1:
        raise error(f"max frames must be at least 1, got {max_frames}")
    path, fps = None, 25.0
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise error(f"video {path} does not exist")
        if path.is_dir():
            items, total = _folder(path, error)
        else:
            if path.stat().st_size == 0:
                raise error(f"video {path} is empty (0 bytes)")
            items, total = _video(path, max_failures, error)
            cap = cv2.VideoCapture(str(path))
            fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            cap.release()
            if not (np.isfinite(fps) and 0 < fps <= 1000):
                fps = 25.0
        name = str(path)
    else:
        if isinstance(source, np.ndarray) and source.ndim in (2, 3) and source.dtype == np.uint8:
            raise error("a video, an image folder or a sequence of frames is needed, not one frame")
        items, total, name = _iterable(source, error), (len(source) if hasattr(source, "__len__") else None), "frames"
    if max_frames is not None:
        total = max_frames if total is None else min(total, max_frames)
    return Source(_checked(items, name, error, max_frames), total, fps, name, path, error)


# ------------------------------------------------------------------------------------------------ outputs


class Outputs:
    """The files one run writes, checked at construction (before any work) and committed together.

    ``video``: annotated MP4; ``masks``: a folder of ``{index:06d}.png``; ``files``: name for messages →
    path of a text/JSON file (boxes, stats) that the caller writes with :meth:`write` inside the
    ``with`` block. ``inputs``: what the run reads (an output naming one is refused: OutputError).
    ``with outputs:`` opens the temps; leaving it without an exception renames everything into place,
    with one removes every temp. A file is written whole (:meth:`write`) or line by line as the run goes
    (:meth:`append`, so a long run need not keep what it has written).
    """

    def __init__(self, video=None, masks=None, files: Mapping[str, Any] | None = None, inputs: Iterable = (),
                 error: type[Exception] = EdgeCVError):
        self.video = Path(video) if video is not None else None
        self.masks = Path(masks) if masks is not None else None
        self.files = {k: Path(v) for k, v in (files or {}).items() if v is not None}
        self.error = error
        check_outputs({"--out": self.video, "--masks": self.masks, **self.files},
                      [i for i in inputs if isinstance(i, (str, os.PathLike))], folders=["--masks"])
        self._stack = None
        self._writer = None
        self._tmp: dict[str, Path] = {}
        self._open: dict[str, Any] = {}

    def __enter__(self):
        stack = contextlib.ExitStack()
        try:
            if self.video is not None:
                self._tmp["--out"] = stack.enter_context(atomic_path(self.video, self.video.suffix or ".mp4"))
                stack.callback(self._release)       # runs first on exit: the file is complete before the rename
            if self.masks is not None:
                self._tmp["--masks"] = stack.enter_context(atomic_dir(self.masks))
            for name, path in self.files.items():
                self._tmp[name] = stack.enter_context(atomic_path(path))
            stack.callback(self._close_files)       # runs before the renames
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return self

    def _close_files(self) -> None:
        for f in self._open.values():
            f.close()
        self._open.clear()

    def _release(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __exit__(self, *exc):
        stack, self._stack = self._stack, None
        if exc[0] is None and self.video is not None and self._writer is None:
            exc = (self.error, self.error(f"no frame was written to {self.video}"), None)
            stack.__exit__(*exc)
            raise exc[1]
        return stack.__exit__(*exc)

    def frame(self, image: np.ndarray, fps: float) -> None:
        """Append one BGR image to the video (its writer opens on the first, at that image's size)."""
        import cv2

        if self.video is None:
            return
        if self._writer is None:
            h, w = image.shape[:2]
            self._writer = cv2.VideoWriter(str(self._tmp["--out"]), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
            if not self._writer.isOpened():
                self._writer = None
                raise self.error(f"cannot write video {self.video} (mp4v codec unavailable or folder not writable)")
        self._writer.write(image)

    def mask(self, index: int, mask: np.ndarray) -> None:
        """One mask PNG, named by the source frame index."""
        import cv2

        if self.masks is None:
            return
        png = self._tmp["--masks"] / f"{index:06d}.png"
        if not cv2.imwrite(str(png), mask):
            raise self.error(f"cannot write mask {self.masks / png.name} (disk full or not writable?)")

    def write(self, name: str, content) -> None:
        """The file declared as ``name``: text, or JSON for anything else (no-op when it was not asked for)."""
        if name not in self.files:
            return
        text = content if isinstance(content, str) else json.dumps(content, indent=1, ensure_ascii=False) + "\n"
        self._tmp[name].write_text(text)

    def append(self, name: str, text: str) -> None:
        """Append ``text`` to the file declared as ``name`` (no-op when it was not asked for)."""
        if name not in self.files:
            return
        if name not in self._open:
            self._open[name] = open(self._tmp[name], "w")  # noqa: SIM115 - closed by _close_files on exit
        self._open[name].write(text)


# ----------------------------------------------------------------------------------------------- progress


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


# ------------------------------------------------------------------------------------------------ the loop


@dataclass
class Run:
    """What :func:`run` did: one entry of ``results`` per kept frame, its source index in ``indices``;
    ``skipped``: the source indices that could not be read; ``frames``: source frames consumed; ``kept``:
    frames that gave a result (in ``results`` unless the run was told not to keep them)."""
    results: list = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    frames: int = 0
    kept: int = 0
    size: tuple[int, int] | None = None     # (H, W) of frame 0
    fps: float = 25.0
    name: str = ""
    wall_s: float = 0.0


def run(src: Source, step: Callable[[int, np.ndarray, str], Any], *,
        draw: Callable[[int, np.ndarray, Any], np.ndarray] | None = None,
        skip: Callable[[int, str], Any] | None = None,
        mask: Callable[[Any], np.ndarray] | None = None,
        outputs: Outputs | None = None, progress: bool = True, label: str = "",
        warn: Callable[[str], None] | None = None, on_skip: str = "skipped", keep: bool = True) -> Run:
    """Run a loop over ``src``: per readable frame ``step(index, frame, why)`` → a result (``why``: "" or
    how the source changed the frame, e.g. resized), ``draw(index, frame, result)`` → the video image,
    ``mask(result)`` → the mask PNG. Per unreadable frame ``skip(index, why)`` → a result to keep for it
    (the video then repeats its previous image) or None (no result, no video image, no mask).

    ``keep=False``: results are not collected (a long run whose step streams what it needs, e.g. box lines
    through :meth:`Outputs.append`, then holds nothing per frame). Warnings go to ``warn``: each of the first
    10 skipped frames (``why; on_skip``), then one line and a total at the end; the first frame of another
    size. Raises ``src.error`` when no frame could be read.
    Outputs are only written into their temps here; the caller's ``with outputs:`` commits them.
    """
    warn = warner(warn)
    out = outputs if outputs is not None else Outputs()
    res = Run(fps=src.fps, name=src.name)
    t0 = time.perf_counter()
    resized = stepped = False
    last_image = None
    with Progress(progress, src.total, label) as bar:
        for i, frame, why in src.frames:
            res.frames += 1
            if frame is None:
                res.skipped.append(i)
                if len(res.skipped) <= MAX_WARNED_SKIPS:
                    warn(f"{why}; {on_skip}")
                elif len(res.skipped) == MAX_WARNED_SKIPS + 1:
                    warn("more frames could not be read; further ones are skipped without a warning each")
                r = skip(i, why) if skip is not None else None
                if r is not None:
                    res.kept += 1
                    if keep:
                        res.results.append(r)
                        res.indices.append(i)
                    if last_image is not None:
                        out.frame(last_image, src.fps)
                bar.advance()
                continue
            if why and not resized:
                warn(why)
                resized = True
            if res.size is None:
                res.size = frame.shape[:2]
            r = step(i, frame, why)
            stepped = True
            res.kept += 1
            if keep:
                res.results.append(r)
                res.indices.append(i)
            if draw is not None and out.video is not None:
                last_image = draw(i, frame, r)
                out.frame(last_image, src.fps)
            if mask is not None and out.masks is not None:
                out.mask(i, mask(r))
            bar.advance()
    if not stepped:
        raise src.error(f"video {src.name} gave no frames that could be read")
    if len(res.skipped) > MAX_WARNED_SKIPS:
        warn(f"{src.name}: {len(res.skipped)} frames could not be read and were skipped in all")
    res.wall_s = time.perf_counter() - t0
    return res

"""The colorization loop: encode the reference once, then per frame correspondence + colorization with the
previous frame's ab fed back (the recurrence lives here, not in the graph).

``edgecv export excolor`` writes the reference encoder and one frame graph per working size:

- ONNX: ``excolor-ref-{ops}-{precision}.onnx``, ``excolor-frame-{W}x{H}-{ops}-{precision}.onnx``;
- TFLite: ``excolor-ref-{precision}.tflite``, ``excolor-frame-{W}x{H}-{precision}.tflite``.

:func:`check_artifacts` refuses a pair whose manifests do not say ``pipeline: colorize``, are the wrong
part, come from different models, or disagree on the match grid, naming the file and the field.
"""
from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import bundle, load
from ..bundle import BACKEND_FORMAT, artifact_path
from ..engine import Outputs, open_source, run, warner
from ..errors import EdgeCVError
from ..track.base import as_bgr as _as_bgr
from . import lab as labc

__all__ = ["ColorizeError", "ColorizeWarning", "ColorArtifacts", "artifact_path", "find_artifacts",
           "check_artifacts", "check_reference", "Colorizer", "colorize_video", "parse_size", "GREY_CHROMA"]

GEOMETRY_FIELDS = bundle.PIPELINES["colorize"].shared
GREY_CHROMA = 3.0    # mean √(a²+b²) in Lab units below which a reference has no colours to give


class ColorizeError(EdgeCVError):
    """Bad colorization input: a grey reference, an unreadable file, a size the artifacts do not have, ..."""


class ColorizeWarning(UserWarning):
    """A recoverable problem: a frame that could not be decoded, a reference of a very different shape."""


def parse_size(size) -> tuple[int, int]:
    """``"640x480"`` or (640, 480) → (W, H)."""
    if isinstance(size, str):
        try:
            w, h = (int(v) for v in size.lower().split("x"))
        except ValueError:
            raise ColorizeError(f"size {size!r}: expected WxH, e.g. 320x240") from None
    else:
        w, h = (int(v) for v in size)
    if w <= 0 or h <= 0:
        raise ColorizeError(f"size {w}x{h}: width and height must be positive")
    return w, h


@dataclass
class ColorArtifacts:
    ref: Path
    frame: Path
    model: str
    size: tuple[int, int]          # working (W, H)
    ab_size: tuple[int, int]       # predicted ab (W, H)
    geometry: dict
    precision: str


def find_artifacts(art_dir, model: str = "excolor", fmt: str = "onnx", precision: str = "fp32",
                   ops: str | None = None, size="320x240") -> ColorArtifacts:
    """The reference and frame graphs of ``model`` at working ``size`` in ``art_dir`` (checked)."""
    if fmt not in bundle.FORMATS:
        raise ColorizeError(f"unknown artifact format {fmt!r}; choose from {', '.join(bundle.FORMATS)}")
    w, h = parse_size(size)
    b = bundle.find_bundle("colorize", art_dir, model, fmt, precision, ops, file_parts={"frame": f"frame-{w}x{h}"})
    return _artifacts(b)


def check_artifacts(ref, frame) -> ColorArtifacts:
    """Check that ``ref`` and ``frame`` are the two graphs of one colorizer (raises ArtifactError naming the
    file and the field; see :func:`edgecv.runtime.bundle.check_bundle`)."""
    return _artifacts(bundle.check_bundle("colorize", {"ref": ref, "frame": frame}))


def _artifacts(b: bundle.Bundle) -> ColorArtifacts:
    frame = b.infos["frame"]
    (h, w), (ah, aw) = frame.size, frame.ab_size
    return ColorArtifacts(b.paths["ref"], b.paths["frame"], b.model, (int(w), int(h)), (int(aw), int(ah)),
                          dict(b.geometry), str(b.precisions["frame"]))


def runtime_backend(backend: str) -> str:
    return bundle.runtime_backend(backend, ColorizeError)


def read_image(path) -> np.ndarray:
    import cv2

    p = Path(path)
    if not p.is_file():
        raise ColorizeError(f"reference image {p} does not exist")
    img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise ColorizeError(f"cannot read reference image {p} (not an image, or a format OpenCV cannot decode)")
    if img.dtype != np.uint8:
        img = cv2.convertScaleAbs(img, alpha=255.0 / max(1.0, float(img.max())))
    return img


def check_reference(img: np.ndarray, name: str = "reference", size=(320, 240)) -> float:
    """The reference's mean chroma; raises ColorizeError when it is grey (no colours to transfer)."""
    import cv2

    img = _as_bgr(img, None, ColorizeError)
    c = labc.chroma(cv2.resize(img, size, interpolation=cv2.INTER_AREA))
    if c < GREY_CHROMA:
        raise ColorizeError(f"reference {name} is grayscale (mean chroma {c:.1f} Lab units, below {GREY_CHROMA}): "
                            "there are no colours to transfer; give a colour image that resembles the video")
    return c


class Colorizer:
    """Two sessions (reference encoder, frame graph) and the state between frames (the previous ab).

    ``set_reference(image)`` once (or to change the colours), then ``step(frame)`` per frame in order;
    ``reset()`` forgets the previous frame (a cut). ``recurrent=False`` feeds zeros as the previous ab
    on every frame (the no-recurrence ablation).
    """

    def __init__(self, artifacts: ColorArtifacts, backend: str = "ort", threads: int | None = None,
                 recurrent: bool = True, spin: bool = False, warn=None):
        self.artifacts = artifacts
        rt = runtime_backend(backend) if backend != "auto" else "auto"
        self.ref_sess = load(artifacts.ref, rt, threads, spin=spin)
        self.frame_sess = load(artifacts.frame, rt, threads, spin=spin)
        self.backend = self.frame_sess.backend
        self.recurrent = recurrent
        self.size = artifacts.size
        self.ab_size = artifacts.ab_size
        rh, rw = artifacts.geometry["reference_size"]
        self.ref_size = (int(rw), int(rh))
        self._warn = warn
        self.ref_features = self.ref_ab = None
        self.reset()

    @classmethod
    def from_dir(cls, art_dir="artifacts", model: str = "excolor", backend: str = "ort", precision: str = "fp32",
                 ops: str | None = None, size="320x240", threads: int | None = None, recurrent: bool = True,
                 warn=None) -> Colorizer:
        fmt = BACKEND_FORMAT.get(backend)
        if fmt is None:
            runtime_backend(backend)
        return cls(find_artifacts(art_dir, model, fmt, precision, ops, size), backend, threads, recurrent,
                   warn=warn)

    def warn(self, msg: str) -> None:
        if self._warn is not None:
            self._warn(msg)
        else:
            warnings.warn(msg, ColorizeWarning, stacklevel=3)

    def reset(self) -> None:
        self.prev_ab = np.zeros((1, 2, self.ab_size[1], self.ab_size[0]), np.float32)

    def set_reference(self, image, name: str = "reference", video_hw=None) -> dict:
        """Encode a colour reference (BGR uint8 array or a path). Raises ColorizeError for a grey one."""
        import cv2

        if isinstance(image, (str, os.PathLike)):
            name = str(image)
            image = read_image(image)
        img = _as_bgr(image, None, ColorizeError)
        c = check_reference(img, name, self.ref_size)
        rh, rw = img.shape[:2]
        if video_hw is not None:
            vh, vw = video_hw
            ar_r, ar_v = rw / rh, vw / vh
            if max(ar_r, ar_v) / min(ar_r, ar_v) > 1.5 or max(rh * rw, vh * vw) / min(rh * rw, vh * vw) > 16:
                self.warn(f"reference {name} ({rw}x{rh}) and the video ({vw}x{vh}) are of very different sizes or "
                          f"shapes; the reference is resized to {self.ref_size[0]}x{self.ref_size[1]} for matching, "
                          "so matches may be poorer (crop it to the video's shape for best results)")
        lab = labc.bgr_to_lab(cv2.resize(img, self.ref_size, interpolation=cv2.INTER_AREA))
        ref_lab = np.concatenate([labc.normalize_l(lab[..., :1]), labc.normalize_ab(lab[..., 1:])], -1)
        ref_lab = np.ascontiguousarray(ref_lab.transpose(2, 0, 1)[None], dtype=np.float32)
        t0 = time.perf_counter()
        out = self.ref_sess.run({"ref_lab": ref_lab})
        ms = (time.perf_counter() - t0) * 1e3
        self.ref_features, self.ref_ab = out["ref_features"], out["ref_ab"]
        self.reset()
        return {"chroma": round(c, 2), "ms": round(ms, 2), "size": [rw, rh]}

    def step(self, frame: np.ndarray, index: int | None = None):
        """Colorize one frame (BGR, BGRA or grey uint8; a colour frame is made grey first). Returns
        (BGR uint8 at the frame's size, info with ``ms`` and the mean match ``confidence``)."""
        import cv2

        if self.ref_features is None:
            raise ColorizeError("no reference: call set_reference(image) first")
        img = _as_bgr(frame, index, ColorizeError)
        t0 = time.perf_counter()
        grey = labc.grey_u8(img)   # a colour frame is made grey first
        l_work = cv2.resize(labc.grey_to_l(grey), self.size, interpolation=cv2.INTER_AREA)
        gray = labc.normalize_l(l_work)[None, None]
        out = self.frame_sess.run({"gray": gray, "ref_features": self.ref_features, "ref_ab": self.ref_ab,
                                   "prev_ab": self.prev_ab})
        ab = np.clip(out["ab"], -1.0, 1.0).astype(np.float32)
        if self.recurrent:
            self.prev_ab = ab
        bgr = labc.merge_luma(grey, ab[0])
        ms = (time.perf_counter() - t0) * 1e3
        return bgr, {"ms": ms, "confidence": float(np.mean(out["confidence"])), "ab": ab[0]}


def colorize_video(video, ref, out=None, backend: str = "ort", precision: str = "fp32", size="320x240",
                   model: str = "excolor", ops: str | None = "standard", art_dir="artifacts",
                   threads: int | None = None, recurrent: bool = True, progress: bool = True,
                   max_frames: int | None = None, warn=None, colorizer: Colorizer | None = None,
                   frames_out: list | None = None) -> dict:
    """Colorize every frame of ``video`` (file, image folder or list of frames) from the colour ``ref``
    (path or BGR array) and write ``out`` (MP4, ``mp4v``): one output frame per input frame, the input's
    size and frame rate. Colour input is made grey first. The loop runs on the engine
    (:mod:`edgecv.runtime.engine`): a frame that cannot be decoded is replaced by the last output (none
    before the first) with a warning naming it, so the count and timing stay right, and the recurrence
    restarts after it; a frame of another size is resized to the first's with a warning. ``out`` is
    checked before any work (the input itself is refused) and written under a temp name, renamed at the end.

    Returns stats: ``frames``, ``skipped``, ``median_ms``/``mean_ms`` per frame (the loop's work, not
    decoding or writing), ``fps``, ``reference_ms`` and the artifacts used. ``frames_out``: a list to
    which each output frame is appended (for evaluation).
    """
    _warn = warner(warn, ColorizeWarning)
    ref_path = ref if isinstance(ref, (str, os.PathLike)) else None
    if ref_path is not None:
        ref_name, ref = str(ref_path), read_image(ref_path)
    else:
        ref_name = "reference"
    check_reference(ref, ref_name)
    src = open_source(video, max_frames, error=ColorizeError)
    outputs = Outputs(out, inputs=[video, ref_path], error=ColorizeError)
    col = colorizer or Colorizer.from_dir(art_dir, model, backend, precision, ops, size, threads, recurrent,
                                          warn=_warn)
    col.recurrent = recurrent
    times, confs, ref_info, last = [], [], [], []

    def step(i, frame, why):
        if not ref_info:
            ref_info.append(col.set_reference(ref, ref_name, frame.shape[:2]))
        res, info = col.step(frame, i)
        times.append(info["ms"])
        confs.append(info["confidence"])
        last[:] = [res]
        if frames_out is not None:
            frames_out.append(res)
        return res

    def skip(i, why):
        col.reset()
        return last[0] if last else None

    with outputs:
        r = run(src, step, skip=skip, draw=lambda i, frame, res: res, outputs=outputs, progress=progress,
                label="colorize", warn=_warn, on_skip="writing the previous output in its place")
    n, skipped, ref_info = r.frames, r.skipped, ref_info[0]
    t = np.asarray(times)
    return {"video": src.name, "reference": ref_name, "out": str(out) if out else None, "frames": n,
            "colorized": len(times), "skipped": skipped, "fps_in": src.fps,
            "median_ms": round(float(np.median(t)), 2), "mean_ms": round(float(t.mean()), 2),
            "p90_ms": round(float(np.percentile(t, 90)), 2), "fps": round(1000.0 / float(t.mean()), 1),
            "reference_ms": ref_info["ms"] if ref_info else None, "mean_confidence": round(float(np.mean(confs)), 3),
            "backend": col.backend, "precision": col.artifacts.precision, "size": list(col.size),
            "recurrent": recurrent, "artifacts": [str(col.artifacts.ref), str(col.artifacts.frame)]}

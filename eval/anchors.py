"""Outside reference trackers ("anchors") for ``edgecv eval track``: NanoTrack V2 and V3 run by OpenCV.

The models are not ours and not part of the product (Apache-2.0, HonglinChu/SiamTrackers): they live outside
the repository, in ``<repo root>/../shared/anchors/nanotrack/{v2,v3}/{backbone,head}.onnx`` (its README), or
under the folder named by ``$EDGECV_ANCHORS``. Nothing is copied; a run without the folder simply has no
reference rows. Only the evaluation layer knows about them: the runtime, ``edgecv track`` and the
registry do not.

How they run: OpenCV's DNN module executes the ONNX graphs (not onnxruntime, which runs our own trackers),
with ``cv2.setNumThreads(threads)``, the same thread count ``--threads`` gives our trackers. That setting is
process-wide; ``eval track`` runs the references after its own trackers.

- ``nanotrack-v2``: ``cv2.TrackerNano`` itself, the path a user would pick today.
- ``nanotrack-v3``: ``cv2.TrackerNano`` cannot run V3: it hard-codes a 16×16 score map
  (``(255 − 127) / 16 + 8``) and V3's head gives 15×15, so its ``update`` fails in a reshape. V3 runs through
  :class:`TrackerNanoPort`, OpenCV 5.1's TrackerNano step for step in numpy over ``cv2.dnn`` (its constants,
  crops and rounding), with the score-map size taken from the head's output. On V2 the port gives the boxes
  of ``cv2.TrackerNano`` exactly (``tests/test_anchors.py``).

Both keep OpenCV's constants (window 0.455, penalty 0.055, lr 0.37), not the per-version values of the
NanoTrack configs, so the two rows differ by their model only. The trackers report no lost state (``lost``
is always False); ``score`` is ``getTrackingScore()`` (the window-blended, penalised peak); boxes are OpenCV's
whole-pixel boxes.

In ``results.json`` a reference row carries ``"reference": {...}`` (:meth:`NanoTrackModel.info`: source and
licence, runner, engine, files, sha256); the table and the plots label it ``NAME (ref)`` (``track.row_label``).
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecv.runtime.track.base import Tracker, TrackError, TrackResult

__all__ = ["ENV", "NANOTRACK", "AnchorError", "NanoTrackModel", "NanoTrackTracker", "TrackerNanoPort",
           "anchors_dir", "find_nanotrack", "nanotrack_factories"]

ENV = "EDGECV_ANCHORS"
# eval name → (sub-folder of nanotrack/, what runs it). OpenCV's TrackerNano where it can, else the port.
NANOTRACK = {"nanotrack-v2": ("v2", "cv2.TrackerNano"), "nanotrack-v3": ("v3", "TrackerNanoPort")}
FILES = ("backbone.onnx", "head.onnx")
SOURCE = "HonglinChu/SiamTrackers NanoTrack/models/nanotrack{v} (Apache-2.0)"


class AnchorError(TrackError):
    """The reference folder or one of its model files is missing or unreadable (the message names it)."""


def anchors_dir() -> Path:
    """``$EDGECV_ANCHORS``, else ``<repo root>/../shared/anchors`` (the repo root holds ``eval/``; an installed,
    non-editable copy has no repo root, so it finds them only through the variable)."""
    env = os.environ.get(ENV)
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "anchors"


@dataclass(frozen=True)
class NanoTrackModel:
    """One NanoTrack version's two graphs, found and checked by :func:`find_nanotrack`."""
    name: str          # the eval row name, e.g. "nanotrack-v2"
    version: str       # "v2" / "v3"
    runner: str        # "cv2.TrackerNano" or "TrackerNanoPort"
    backbone: Path
    head: Path
    source: str | None = None    # where the pair comes from (default: the public NanoTrack release)

    def info(self) -> dict:
        """What ``results.json`` says about the row (``"reference"``)."""
        return {"source": self.source or SOURCE.format(v=self.version), "runner": self.runner,
                "engine": "OpenCV DNN (not onnxruntime)",
                "files": {p.name: str(p) for p in (self.backbone, self.head)},
                "sha256": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (self.backbone, self.head)}}


def _load_net(path: Path):
    """``cv2.dnn.readNet``, an unreadable or corrupt file → :class:`AnchorError` naming it."""
    import cv2

    try:
        net = cv2.dnn.readNet(str(path))
    except cv2.error as e:
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else "unknown error"
        raise AnchorError(f"reference model {path} cannot be read by OpenCV DNN ({msg})") from None
    if net.empty():
        raise AnchorError(f"reference model {path} loads as an empty network in OpenCV DNN")
    return net


def find_nanotrack(root=None, names=None, load: bool = True) -> dict[str, NanoTrackModel]:
    """The NanoTrack models under ``root`` (default :func:`anchors_dir`) by eval name (``names``: default all).

    Raises :class:`AnchorError` when the folder is absent, a file is missing, or (``load``) OpenCV cannot
    parse one; the message names the folder or file and how to point elsewhere.
    """
    root = Path(root) if root is not None else anchors_dir()
    if not root.is_dir():
        raise AnchorError(f"no anchor folder at {root} (set ${ENV} to the folder holding nanotrack/)")
    out = {}
    for name in names or NANOTRACK:
        if name not in NANOTRACK:
            raise AnchorError(f"unknown reference tracker {name!r}; choose from {', '.join(NANOTRACK)}")
        version, runner = NANOTRACK[name]
        paths = [root / "nanotrack" / version / f for f in FILES]
        for p in paths:
            if not p.is_file():
                raise AnchorError(f"reference model {p} is missing (anchor folder {root})")
            if load:
                _load_net(p)
        out[name] = NanoTrackModel(name, version, runner, *paths)
    return out


def _quiet_cv2():
    """OpenCV 5 warns on ``setPreferableTarget`` ("Targets are not supported by the new graph engine") each
    time TrackerNano is created; keep that out of the eval output. Returns the level to restore."""
    import cv2

    lg = cv2.utils.logging
    old = lg.getLogLevel()
    lg.setLogLevel(min(old, lg.LOG_LEVEL_ERROR))
    return old


class NanoTrackTracker(Tracker):
    """A NanoTrack reference behind the common interface, run by ``model.runner`` (see the module docstring).

    ``threads``: ``cv2.setNumThreads`` (process-wide), None leaves it. Init boxes are rounded to whole pixels
    (OpenCV's ``Rect``); ``score`` = ``getTrackingScore()``; never ``lost``.
    """

    name = "nanotrack"

    def __init__(self, model: NanoTrackModel, threads: int | None = 1):
        super().__init__()
        import cv2

        self.model = model
        self.name = model.name
        if threads is not None:
            cv2.setNumThreads(int(threads))
        if model.runner == "cv2.TrackerNano":
            if not hasattr(cv2, "TrackerNano_create"):
                raise AnchorError(f"this OpenCV ({cv2.__version__}) has no TrackerNano_create")
            p = cv2.TrackerNano_Params()
            p.backbone, p.neckhead = str(model.backbone), str(model.head)
            old = _quiet_cv2()
            try:
                self._t = cv2.TrackerNano_create(p)
            except cv2.error:
                for f in (model.backbone, model.head):   # which file: each read alone says
                    _load_net(f)
                raise
            finally:
                cv2.utils.logging.setLogLevel(old)
        else:
            self._t = TrackerNanoPort(model.backbone, model.head)

    def _init(self, frame, box):
        x, y, w, h = box
        self._t.init(frame, (int(round(x)), int(round(y)), max(1, int(round(w))), max(1, int(round(h)))))

    def _update(self, frame):
        import cv2

        try:
            _, b = self._t.update(frame)
        except cv2.error as e:
            raise TrackError(f"{self.name}: OpenCV failed in update ({str(e).strip().splitlines()[-1]})") from None
        return TrackResult(tuple(float(v) for v in b), float(self._t.getTrackingScore()))


class TrackerNanoPort:
    """OpenCV's ``TrackerNano`` (``modules/video/src/tracking/tracker_nano.cpp``) in numpy over ``cv2.dnn``,
    with the score-map size read from the head's output instead of fixed at 16. Same interface as
    ``cv2.TrackerNano``: ``init(frame, (x, y, w, h))``, ``update(frame) -> (True, box)``, ``getTrackingScore()``.

    It follows OpenCV 5.1's behaviour, checked against ``cv2.TrackerNano`` on V2 (identical boxes and scores on
    59 frames of each of 4 dev sequences): its constants; the crop (whole-pixel corners, padding with the mean
    of the whole frame, ``cv2.resize`` bilinear, BGR→RGB, no scaling); the search crop's side ``sz · 255/127``;
    the scale penalty against the target's size; boxes truncated to int. (An older ``tracker_nano.cpp`` has
    an integer ``255/127``, ``int(w + h)`` and a scale penalty against the target's *position*; following it
    gave boxes 1–4 px off 5.1's.)
    """

    EXEMPLAR, INSTANCE, STRIDE = 127, 255, 16
    WINDOW_INFLUENCE, LR, CONTEXT, PENALTY_K = 0.455, 0.37, 0.5, 0.055

    def __init__(self, backbone, head):
        self.backbone = _load_net(Path(backbone))
        self.head = _load_net(Path(head))
        self.score = 0.0

    def _crop(self, img: np.ndarray, original: int, size: int) -> np.ndarray:
        import cv2

        avg = cv2.mean(img)
        H, W = img.shape[:2]
        c = (original + 1) // 2
        x0 = int(self.pos[0]) - c
        y0 = int(self.pos[1]) - c
        x1, y1 = x0 + original - 1, y0 + original - 1
        lp, tp = max(0, -x0), max(0, -y0)
        rp, bp = max(0, x1 - W + 1), max(0, y1 - H + 1)
        if lp or tp or rp or bp:
            img = cv2.copyMakeBorder(img, tp, bp, lp, rp, cv2.BORDER_CONSTANT, value=avg)
        crop = img[y0 + tp: y1 + tp + 1, x0 + lp: x1 + lp + 1]
        return cv2.resize(crop, (size, size))

    def _features(self, crop: np.ndarray) -> np.ndarray:
        import cv2

        self.backbone.setInput(cv2.dnn.blobFromImage(crop, 1.0, swapRB=True))
        return self.backbone.forward()

    def init(self, image: np.ndarray, box) -> None:
        x, y, w, h = (int(v) for v in box)
        self.pos = np.array([x + w * 0.5, y + h * 0.5], np.float32)
        self.sz = np.array([w, h], np.float32)
        self.img_size = image.shape[1], image.shape[0]
        s = self.sz.sum()
        we, he = self.sz[0] + self.CONTEXT * s, self.sz[1] + self.CONTEXT * s
        self.template = self._features(self._crop(image, int(np.sqrt(np.float32(we * he))), self.EXEMPLAR))

    def update(self, image: np.ndarray):
        f32 = np.float32
        s = self.sz[0] + self.sz[1]
        wc, hc = self.sz[0] + f32(self.CONTEXT) * s, self.sz[1] + f32(self.CONTEXT) * s
        sz = np.sqrt(wc * hc, dtype=f32)
        scale_z = f32(self.EXEMPLAR) / sz
        sx = sz * f32(self.INSTANCE / self.EXEMPLAR)
        tw, th = self.sz * scale_z
        xf = self._features(self._crop(image, int(sx), self.INSTANCE))
        self.head.setInput(self.template, "input1")
        self.head.setInput(xf, "input2")
        cls, loc = self.head.forward(["output1", "output2"])
        n = cls.shape[-1]
        cls = cls.reshape(2, n, n).astype(f32)
        loc = loc.reshape(4, n, n).astype(f32)
        m = np.maximum(cls[0], cls[1])
        e = np.exp(cls - m)
        score = e[1] / (e[0] + e[1])
        grid = ((np.arange(n, dtype=f32) - f32(n // 2)) * f32(self.STRIDE) + f32(self.INSTANCE // 2))
        gx, gy = np.meshgrid(grid, grid)
        x1, y1, x2, y2 = gx - loc[0], gy - loc[1], gx + loc[2], gy + loc[3]

        def size_cal(w, h):
            pad = (w + h) * f32(0.5)
            return np.sqrt((w + pad) * (h + pad), dtype=f32)

        sc = size_cal(x2 - x1, y2 - y1) / size_cal(tw, th)
        sc = np.maximum(sc, f32(1) / sc)
        rc = f32(tw / th) / ((x2 - x1) / (y2 - y1))
        rc = np.maximum(rc, f32(1) / rc)
        penalty = np.exp((rc * sc - f32(1)) * f32(self.PENALTY_K) * f32(-1), dtype=f32)
        if getattr(self, "_window", None) is None or self._window.shape[0] != n:
            import cv2

            self._window = cv2.createHanningWindow((n, n), cv2.CV_32F)
        pscore = penalty * score * f32(1 - self.WINDOW_INFLUENCE) + self._window * f32(self.WINDOW_INFLUENCE)
        i, j = np.unravel_index(int(np.argmax(pscore)), pscore.shape)
        self.score = float(pscore[i, j])
        xs, ys = (x1[i, j] + x2[i, j]) / f32(2), (y1[i, j] + y2[i, j]) / f32(2)
        pw, ph = (x2[i, j] - x1[i, j]) / scale_z, (y2[i, j] - y1[i, j]) / scale_z
        dx, dy = (xs - f32(self.INSTANCE // 2)) / scale_z, (ys - f32(self.INSTANCE // 2)) / scale_z
        tw, th = tw / scale_z, th / scale_z
        lr = penalty[i, j] * score[i, j] * f32(self.LR)
        W, H = self.img_size
        rx = min(max(f32(0), self.pos[0] + dx), f32(W))
        ry = min(max(f32(0), self.pos[1] + dy), f32(H))
        rw = min(max(f32(10), pw * lr + (f32(1) - lr) * tw), f32(W))
        rh = min(max(f32(10), ph * lr + (f32(1) - lr) * th), f32(H))
        self.pos = np.array([rx, ry], f32)
        self.sz = np.array([rw, rh], f32)
        return True, (int(rx - rw / 2), int(ry - rh / 2), int(rw), int(rh))

    def getTrackingScore(self) -> float:  # noqa: N802 - cv2.TrackerNano's name
        return self.score


def nanotrack_factories(models: dict[str, NanoTrackModel], threads: int | None = 1) -> dict[str, Callable[[], Tracker]]:
    """``{name: factory}`` for :func:`edgecv.eval.track.evaluate`, one fresh tracker per call."""
    return {name: (lambda m=m: NanoTrackTracker(m, threads)) for name, m in models.items()}

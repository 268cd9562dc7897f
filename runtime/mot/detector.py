"""The person detector at run time: an exported ``persondet`` graph (heatmap, box distances, embedding at one
stride) → boxes in frame pixels, scores and unit embeddings. Torch-free.

Decoding is CenterNet's: a cell is a detection when its heatmap value is the maximum of its 3×3
neighbourhood (a grey dilation) and above ``score_threshold``; the box is the cell centre minus/plus the
predicted distances; at most ``max_detections`` by score; then a light greedy NMS (``nms_iou``) drops the rare
second peak on one person. The frame is resized whole to the graph's input, so boxes scale back per axis.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import MotError

__all__ = ["Detections", "decode", "nms", "PersonDetector"]


@dataclass(frozen=True)
class Detections:
    boxes: np.ndarray                  # (n, 4) x1, y1, x2, y2 in frame pixels
    scores: np.ndarray                 # (n,)
    embeddings: np.ndarray | None      # (n, D) unit vectors, or None

    def __len__(self) -> int:
        return len(self.scores)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best first."""
    order = np.argsort(-scores, kind="stable")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while len(order):
        i = order[0]
        keep.append(i)
        rest = order[1:]
        iw = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        ih = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        inter = iw * ih
        order = rest[inter / (area[i] + area[rest] - inter + 1e-9) < iou]
    return np.array(keep, np.int64)


def decode(heat: np.ndarray, box: np.ndarray, embedding: np.ndarray | None, frame_hw, stride: int = 8,
           score_threshold: float = 0.3, max_detections: int = 100, nms_iou: float = 0.7) -> Detections:
    """One frame's graph outputs (heat (h, w), box (4, h, w), embedding (D, h, w) or None) → :class:`Detections`
    in the pixels of a frame of size ``frame_hw`` (H, W)."""
    import cv2

    heat = np.asarray(heat, np.float32)
    gh, gw = heat.shape
    peak = heat >= cv2.dilate(heat, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero(peak & (heat >= score_threshold))
    scores = heat[ys, xs]
    order = np.argsort(-scores, kind="stable")[:max_detections]
    ys, xs, scores = ys[order], xs[order], scores[order]
    cx, cy = (xs + 0.5) * stride, (ys + 0.5) * stride
    ltrb = box[:, ys, xs]
    boxes = np.stack([cx - ltrb[0], cy - ltrb[1], cx + ltrb[2], cy + ltrb[3]], 1).astype(np.float64)
    sx, sy = frame_hw[1] / (gw * stride), frame_hw[0] / (gh * stride)
    boxes *= np.array([sx, sy, sx, sy])
    boxes = np.clip(boxes, 0, [frame_hw[1], frame_hw[0], frame_hw[1], frame_hw[0]])
    ok = (boxes[:, 2] - boxes[:, 0] >= 2) & (boxes[:, 3] - boxes[:, 1] >= 2)
    boxes, scores, ys, xs = boxes[ok], scores[ok], ys[ok], xs[ok]
    keep = nms(boxes, scores, nms_iou) if len(scores) > 1 else np.arange(len(scores))
    boxes, scores, ys, xs = boxes[keep], scores[keep], ys[keep], xs[keep]
    emb = None
    if embedding is not None:
        e = np.asarray(embedding, np.float32)[:, ys, xs].T
        emb = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    return Detections(boxes.reshape(-1, 4), scores.astype(np.float32), emb)


class PersonDetector:
    """An exported ``detect``-pipeline artifact (``persondet-lite0``), frame in, :class:`Detections` out.

    ``artifact``: the ``.onnx`` / ``.tflite`` file; its manifest is checked through the bundle contract
    (:func:`edgecv.runtime.bundle.check_graph`): an artifact of another model (a tracker's template graph, a
    DFF part, a classifier) or a file without a manifest raises :class:`MotError` naming the file and what it
    is; the graph's tensors are checked against the manifest's geometry. ``backend``: ``auto`` (by suffix),
    ``ort``, ``ort-cuda``, ``ort-trt``, ``litert`` (alias ``tflite``), ``opencv``. :meth:`from_dir` finds the
    artifact by the name ``edgecv export`` writes.

    After each call, :attr:`last_ms` holds the milliseconds of ``pre`` (resize, layout), ``graph`` (the
    session) and ``decode``.
    """

    OUTPUTS = ("heatmap", "box", "embedding")

    def __init__(self, artifact, backend: str = "auto", threads: int | None = None, score_threshold: float = 0.3,
                 max_detections: int = 100, nms_iou: float = 0.7, spin: bool = True):
        from .. import load
        from ..bundle import check_graph, runtime_backend

        if not 0.0 <= float(score_threshold) <= 1.0:
            raise MotError(f"detector score threshold must be in [0, 1], got {score_threshold}")
        if int(max_detections) < 1:
            raise MotError(f"max detections must be at least 1, got {max_detections}")
        self.path = Path(artifact)
        bundle = check_graph("detect", self.path, error=MotError)
        self.model = bundle.model
        self.info = bundle.infos[""]
        self.precision = bundle.precisions[""]
        self.manifest = None
        self.input_h, self.input_w = self.info.input_size
        self.grid_h, self.grid_w = self.info.grid_size
        self.stride = int(self.info.stride)
        self.embed_dim = int(self.info.embed_dim)
        self.operating_point = self.info.operating_point   # the score the MOT variants' thresholds follow
        self.session = load(self.path, runtime_backend(backend, MotError), threads, spin=spin)
        self.manifest = self.session.manifest
        self.sha256 = (self.manifest or {}).get("sha256")
        self.backend = self.session.backend
        self._check_tensors()
        self.score_threshold, self.max_detections, self.nms_iou = float(score_threshold), int(max_detections), nms_iou
        self.last_ms = {"pre": 0.0, "graph": 0.0, "decode": 0.0}

    @classmethod
    def from_dir(cls, art_dir="artifacts", model: str = "persondet-lite0", backend: str = "ort",
                 precision: str = "fp32", ops: str | None = None, threads: int | None = None,
                 **kw) -> PersonDetector:
        """The artifact ``edgecv export MODEL`` wrote into ``art_dir`` for ``backend`` and ``precision``
        (a missing file raises ``FileNotFoundError`` with the export command that makes it)."""
        from ..bundle import backend_format, find_bundle

        b = find_bundle("detect", art_dir, model, backend_format(backend, MotError), precision, ops, error=MotError)
        return cls(b.paths[""], backend, threads, **kw)

    def _check_tensors(self) -> None:
        want_in = {"image": (1, 3, self.input_h, self.input_w)}
        want_out = {"heatmap": (1, 1, self.grid_h, self.grid_w), "box": (1, 4, self.grid_h, self.grid_w),
                    "embedding": (1, self.embed_dim, self.grid_h, self.grid_w)}
        for side, tensors, want in (("input", self.session.inputs, want_in),
                                    ("output", self.session.outputs, want_out)):
            have = {t.name: tuple(t.shape) for t in tensors}
            for name, shape in want.items():
                if name not in have:
                    raise MotError(f"{self.path}: has no {side} {name!r} (it has {sorted(have)}); not a "
                                   "person-detector graph")
                if have[name] != shape:
                    raise MotError(f"{self.path}: {side} {name!r} is {have[name]}, but its manifest's geometry "
                                   f"says {shape}")

    def describe(self) -> dict:
        """What runs: artifact, its sha256, model, backend, precision, input size (for stats files)."""
        return {"artifact": str(self.path), "sha256": self.sha256, "model": self.model, "backend": self.backend,
                "precision": self.precision, "input_size": [self.input_h, self.input_w],
                "score_threshold": self.score_threshold, "max_detections": self.max_detections,
                "nms_iou": self.nms_iou}

    def preprocess(self, frame_bgr: np.ndarray) -> np.ndarray:
        """BGR uint8 frame → (1, 3, H, W) RGB float32 in [0, 1], the whole frame resized (``INTER_AREA``, as
        the model's training and parity inputs)."""
        import cv2

        x = cv2.resize(frame_bgr, (self.input_w, self.input_h), interpolation=cv2.INTER_AREA)[:, :, ::-1]
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255.0)

    def fit_params(self, params, score_threshold: float | None = None):
        """A tracker variant (name or MotParams) with its score thresholds on this detector's scale
        (``MotParams.for_detector`` at the manifest's operating point); decoding then stops at the variant's
        lowest score (``score_floor``), or at ``score_threshold`` when given. Returns the variant's MotParams."""
        from .params import get_params

        p = (get_params(params) if isinstance(params, str) else params).for_detector(self.operating_point)
        self.score_threshold = p.score_floor() if score_threshold is None else float(score_threshold)
        return p

    def __call__(self, frame_bgr: np.ndarray) -> Detections:
        t0 = time.perf_counter()
        x = self.preprocess(frame_bgr)
        t1 = time.perf_counter()
        out = self.session.run({"image": x})
        t2 = time.perf_counter()
        heat, box, emb = (out[k] for k in self.OUTPUTS)
        det = decode(heat[0, 0], box[0], emb[0], frame_bgr.shape[:2], self.stride, self.score_threshold,
                     self.max_detections, self.nms_iou)
        t3 = time.perf_counter()
        self.last_ms = {"pre": (t1 - t0) * 1e3, "graph": (t2 - t1) * 1e3, "decode": (t3 - t2) * 1e3}
        return det
